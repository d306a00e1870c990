"""Ranking features: clip, viewer, context and viewer×clip cross features, as one float matrix.

The same function produces the rows the ranker is trained on: at serving time each shown
clip's feature row is logged with the impression (``clipfeed.recs.training``), so a training
row holds the features exactly as they were when the clip was shown: point-in-time correct
by construction, nothing from after the impression leaks in. Changing this list changes the
model's feature schema; the registry stores the schema with each model and refuses to serve
a model whose schema differs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from clipfeed.recs.cards import ClipCard
from clipfeed.recs.profile import ViewerState

SOURCES = ["following", "trending", "collaborative", "co_engagement", "content", "fresh", "popular",
           "interests", "recent", "hashtags"]  # new sources go last: trained models keep their codes
FEATURE_NAMES = [
    # clip
    "clip_age_log_h", "clip_duration_s", "clip_impressions_log", "clip_engaged_rate", "clip_complete_rate",
    "clip_like_rate", "clip_share_rate", "clip_skip_rate", "clip_watch_fraction",
    # viewer
    "viewer_skip_rate", "viewer_engaged_rate", "viewer_impressions_log",
    # context
    "hour_sin", "hour_cos", "device_mobile", "network_quality",
    # viewer x clip
    "taste_dot", "dislike_dot", "creator_affinity", "creator_live", "tag_affinity", "tag_live",
    "retrieval_score", "source",
]
NETWORK_QUALITY = {"2g": 0.1, "slow-2g": 0.05, "3g": 0.35, "4g": 0.75, "5g": 0.9, "wifi": 1.0, "ethernet": 1.0}


@dataclass(frozen=True)
class Context:
    at: float
    device: str = "unknown"
    network: str | None = None
    region: str = "global"
    language: str | None = None

    @classmethod
    def now(cls, **kwargs: object) -> Context:
        return cls(at=time.time(), **kwargs)  # type: ignore[arg-type]


def _rate(hits: np.ndarray, shown: np.ndarray, prior: float, strength: float = 20.0) -> np.ndarray:
    """Beta-smoothed rate: a new clip starts at the prior and moves as evidence comes in."""
    return (hits + prior * strength) / (shown + strength)


def feature_matrix(viewer: ViewerState, cards: Sequence[ClipCard], stats: dict[int, dict[str, float]],
                   context: Context, sources: Sequence[str], retrieval: Sequence[float]) -> np.ndarray:
    """One row per card, columns as ``FEATURE_NAMES``; computed a column at a time (a build
    scores a few hundred clips on the request path)."""
    rows = np.zeros((len(cards), len(FEATURE_NAMES)), dtype=np.float32)
    if not cards:
        return rows
    hour = (context.at % 86400) / 3600.0
    rows[:, column("viewer_skip_rate"):column("hour_sin")] = [
        viewer.skip_rate, viewer.engagement_rate, math.log1p(viewer.impressions)]
    rows[:, column("hour_sin"):column("taste_dot")] = [
        math.sin(hour / 24 * 2 * math.pi), math.cos(hour / 24 * 2 * math.pi),
        1.0 if context.device in ("ios", "android", "mobile") else 0.0,
        NETWORK_QUALITY.get((context.network or "").lower(), 0.5)]
    counters = [stats.get(card.id, {}) for card in cards]

    def counter(name: str) -> np.ndarray:
        return np.array([seen.get(name, 0.0) for seen in counters], dtype=np.float64)

    shown = counter("imp")
    duration_s = np.maximum(np.array([card.duration_ms for card in cards], dtype=np.float64), 1.0) / 1000.0
    age_h = np.maximum(0.0, context.at - np.array([card.published for card in cards], dtype=np.float64)) / 3600.0
    watch_fraction = counter("watch_ms") / 1000.0 / (duration_s * np.maximum(shown, 1.0))
    sketches = np.stack([c.sketch if c.sketch is not None else np.zeros_like(viewer.taste) for c in cards])
    creators = [card.creator_id for card in cards]
    rows[:, column("clip_age_log_h")] = np.log1p(age_h)
    rows[:, column("clip_duration_s")] = duration_s
    rows[:, column("clip_impressions_log")] = np.log1p(shown)
    for name, prior in (("engaged", 0.2), ("complete", 0.3), ("like", 0.05), ("share", 0.01), ("skip", 0.3)):
        rows[:, column(f"clip_{name}_rate")] = _rate(counter(name), shown, prior)
    rows[:, column("clip_watch_fraction")] = np.where(shown > 0, np.minimum(2.0, watch_fraction), 0.5)
    rows[:, column("taste_dot")] = sketches @ viewer.taste
    rows[:, column("dislike_dot")] = sketches @ viewer.dislike
    rows[:, column("creator_affinity")] = np.tanh(np.array([viewer.creators.get(c, 0.0) for c in creators]) / 5.0)
    rows[:, column("creator_live")] = np.tanh(np.array([viewer.live_creators.get(c, 0.0) for c in creators]))
    # Long-term topic affinity: the clip's hashtags and its caption words (a hashtag can mislead).
    rows[:, column("tag_affinity")] = np.tanh(np.array(
        [sum(viewer.tags.get(t, 0.0) for t in card.hashtags) + sum(viewer.words.get(w, 0.0) for w in card.words)
         for card in cards]) / 5.0)
    # Live topic affinity: the clip's hashtags, and the mean over its caption words (a caption
    # weighs as much as one hashtag however many words it has) less that mean's average over the
    # candidates, so a word most captions share (say "video") tells nothing, however the viewer
    # just felt about it.
    tags_live = np.array([sum(viewer.live_tags.get(t, 0.0) for t in card.hashtags) for card in cards])
    if viewer.live_words:
        get = viewer.live_words.get
        words_live = np.array([sum(map(get, card.words, repeat(0.0))) / len(card.words) if card.words else 0.0
                               for card in cards])
        tags_live += words_live - words_live.mean()
    rows[:, column("tag_live")] = np.tanh(tags_live)
    rows[:, column("retrieval_score")] = retrieval
    rows[:, column("source")] = [_SOURCE_CODE.get(source, -1.0) for source in sources]
    return rows


_SOURCE_CODE = {name: float(i) for i, name in enumerate(SOURCES)}
_COLUMNS = {name: i for i, name in enumerate(FEATURE_NAMES)}


def column(name: str) -> int:
    return _COLUMNS[name]
