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

import numpy as np

from clipfeed.recs.catalogue import ClipCard
from clipfeed.recs.profile import ViewerState

SOURCES = ["following", "trending", "collaborative", "co_engagement", "content", "fresh", "popular",
           "interests", "recent"]
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


def _rate(hits: float, shown: float, prior: float, strength: float = 20.0) -> float:
    """Beta-smoothed rate: a new clip starts at the prior and moves as evidence comes in."""
    return (hits + prior * strength) / (shown + strength)


def feature_matrix(viewer: ViewerState, cards: Sequence[ClipCard], stats: dict[int, dict[str, float]],
                   context: Context, sources: Sequence[str], retrieval: Sequence[float]) -> np.ndarray:
    rows = np.zeros((len(cards), len(FEATURE_NAMES)), dtype=np.float32)
    hour = (context.at % 86400) / 3600.0
    viewer_part = [viewer.skip_rate, viewer.engagement_rate, math.log1p(viewer.impressions)]
    context_part = [math.sin(hour / 24 * 2 * math.pi), math.cos(hour / 24 * 2 * math.pi),
                    1.0 if context.device in ("ios", "android", "mobile") else 0.0,
                    NETWORK_QUALITY.get((context.network or "").lower(), 0.5)]
    sketches = np.stack([c.sketch if c.sketch is not None else np.zeros_like(viewer.taste) for c in cards]) \
        if cards else np.zeros((0, len(viewer.taste)), dtype=np.float32)
    taste = sketches @ viewer.taste if len(cards) else np.zeros(0)
    dislike = sketches @ viewer.dislike if len(cards) else np.zeros(0)
    for row, card in enumerate(cards):
        seen = stats.get(card.id, {})
        shown = seen.get("imp", 0.0)
        duration_s = max(card.duration_ms, 1) / 1000.0
        watch_fraction = seen.get("watch_ms", 0.0) / 1000.0 / (duration_s * max(shown, 1.0))
        tags = card.hashtags
        rows[row] = [
            math.log1p(max(0.0, context.at - card.published) / 3600.0), duration_s, math.log1p(shown),
            _rate(seen.get("engaged", 0.0), shown, 0.2), _rate(seen.get("complete", 0.0), shown, 0.3),
            _rate(seen.get("like", 0.0), shown, 0.05), _rate(seen.get("share", 0.0), shown, 0.01),
            _rate(seen.get("skip", 0.0), shown, 0.3), min(2.0, watch_fraction) if shown else 0.5,
            *viewer_part, *context_part,
            float(taste[row]), float(dislike[row]),
            math.tanh(viewer.creators.get(card.creator_id, 0.0) / 5.0),
            math.tanh(viewer.live_creators.get(card.creator_id, 0.0)),
            math.tanh(sum(viewer.tags.get(t, 0.0) for t in tags) / 5.0),
            math.tanh(sum(viewer.live_tags.get(t, 0.0) for t in tags)),
            float(retrieval[row]), float(SOURCES.index(sources[row]) if sources[row] in SOURCES else -1),
        ]
    return rows


def column(name: str) -> int:
    return FEATURE_NAMES.index(name)
