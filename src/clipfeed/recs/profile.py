"""Live viewer and clip state in the feature store, and how feedback changes it.

Per viewer: long-term affinities (hashtags, caption words, creators; additive), a live profile (the latest
positive and negative clips, which is what makes the next page move after a like or a skip),
engagement counts (skip rate, exploration hits) and a content centroid. Per clip: smoothed
engagement counts. Feedback arrives from playback events and social events
(``clipfeed.recs.worker``); the stream worker is the only writer, one partition per viewer.

Staleness: state is as fresh as the stream worker's lag (seconds); losing the cache loses the
live profile only, which rebuilds from new events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from clipfeed.infra.cache import Cache, Read
from clipfeed.recs.cards import SKETCH_DIM, get_cards

STATE_TTL_S = 60 * 24 * 3600.0
LIVE_DECAY = 0.75  # weight of the k-th latest event in the live profile: LIVE_DECAY ** k
# The content taste (and dislike) centroid remembers further back: about the latest ten clips
# rather than four, so it holds the several topics a viewer likes rather than the last one.
CONTENT_DECAY = 0.9
LONG_TERM_GROWTH = 1.01  # forward decay of long-term affinities per feedback event
LONG_TERM_MAX_EVENTS = 60_000.0  # 1.01 ** 60000 is still a finite float; older profiles stop decaying
RECENT_KEPT = 30
# What each kind of feedback says about the viewer's taste (affinity change per event).
TASTE = {"complete": 1.0, "replay": 1.5, "like": 3.0, "share": 4.0, "follow": 3.0, "comment": 2.0,
         "skip": -1.5, "leave": -1.0, "not_interested": -6.0}
# Engagement for trending and popularity.
HEAT = {"complete": 1.0, "replay": 1.0, "like": 3.0, "share": 5.0, "comment": 3.0, "play_start": 0.2}
POSITIVE = {"complete", "replay", "like", "share", "comment"}
NEGATIVE = {"skip", "not_interested"}
MOVES_FEED = {"like", "share", "skip", "leave", "not_interested", "follow", "complete"}
# A heartbeat reporting this much watching at once is a long watch: as telling as a completion
# (clients report every few seconds, so only a viewer who kept watching sends one this long).
LONG_WATCH_MS = 8_000.0


def feedback_kind(kind: str, *, ended: bool = False, position_ms: float | None = None, watch_ms: float = 0.0) -> str:
    """What a playback event says to the feed. A ``progress`` report that ended the play (the
    viewer moved on before the clip's end) short of a long watch is a ``leave``: a milder skip.
    Without it, a viewer who left after two seconds (a skip is sooner) told the feed nothing,
    and that was two in three of the clips turned down in the simulator."""
    if kind == "progress" and ended and (watch_ms if position_ms is None else position_ms) < LONG_WATCH_MS:
        return "leave"
    return kind


def long_watch(kind: str, watch_ms: float) -> bool:
    return kind == "progress" and watch_ms >= LONG_WATCH_MS


def live_part(kind: str, watch_ms: float = 0.0) -> str | None:
    """Which part of the live profile an event joins: the latest positive clips (``recent``),
    the latest negative ones (``negative``), or neither."""
    if kind in POSITIVE or long_watch(kind, watch_ms):
        return "recent"
    return "negative" if kind in NEGATIVE or kind == "leave" else None


def moves_feed(kind: str, watch_ms: float = 0.0) -> bool:
    """A strong signal: the viewer's buffer, ranked before it, is ranked again before serving."""
    return kind in MOVES_FEED or long_watch(kind, watch_ms)


def ukey(viewer: str, part: str) -> str:
    return f"recs:u:{viewer}:{part}"


def ckey(clip_id: int) -> str:
    return f"recs:c:{clip_id}"


def dirty_key(viewer: str) -> str:
    return f"recs:dirty:{viewer}"


def known_key(viewer: str) -> str:
    """Present once the viewer has any feedback: a viewer without it is new (cold start)."""
    return f"recs:known:{viewer}"


@dataclass
class ViewerState:
    viewer: str
    tags: dict[str, float] = field(default_factory=dict)
    creators: dict[int, float] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)
    recent: list[int] = field(default_factory=list)
    negative: list[int] = field(default_factory=list)
    hidden: set[int] = field(default_factory=set)
    taste: np.ndarray = field(default_factory=lambda: np.zeros(SKETCH_DIM, dtype=np.float32))
    dislike: np.ndarray = field(default_factory=lambda: np.zeros(SKETCH_DIM, dtype=np.float32))
    live_tags: dict[str, float] = field(default_factory=dict)
    live_creators: dict[int, float] = field(default_factory=dict)
    words: dict[str, float] = field(default_factory=dict)  # long-term, as ``tags``, for caption words
    live_words: dict[str, float] = field(default_factory=dict)  # live, for caption words (weighed as content)

    @property
    def impressions(self) -> float:
        return self.stats.get("imp", 0.0)  # from the clients' impression events

    @property
    def skip_rate(self) -> float:
        return (self.stats.get("skip", 0.0) + 1.0) / (self.impressions + 4.0)

    @property
    def engagement_rate(self) -> float:
        return (self.stats.get("pos", 0.0) + 1.0) / (self.impressions + 4.0)


def _floats(raw: dict[str, bytes]) -> dict[str, float]:
    return {k: float(v) for k, v in raw.items()}


async def load_viewer(cache: Cache, viewer: str) -> ViewerState:
    """Everything the ranker needs about a viewer: its state in one round trip, then the cards
    of the clips it last watched and skipped."""
    tags, creators, stats, words, recent_top, negative_top, hidden_members = await cache.read_many([
        *(Read("hgetall", ukey(viewer, part)) for part in ("tags", "creators", "stats", "words")),
        Read("ztop", ukey(viewer, "recent"), (RECENT_KEPT,)), Read("ztop", ukey(viewer, "negative"), (RECENT_KEPT,)),
        Read("smembers", ukey(viewer, "hidden"))])
    recent = [int(m) for m, _ in recent_top]
    negative = [int(m) for m, _ in negative_top]
    hidden = {int(m) for m in hidden_members}
    stats_now = _floats(stats)
    # Long-term affinities are stored forward-decayed (see ``clipfeed.recs.feedback.fold``): dividing by
    # the growth at the viewer's current event count gives today's values.
    scale = LONG_TERM_GROWTH ** -stats_now.get("n", 0.0)
    state = ViewerState(viewer, {k: v * scale for k, v in _floats(tags).items()},
                        {int(k): float(v) * scale for k, v in creators.items()}, stats_now, recent, negative, hidden,
                        words={k: v * scale for k, v in _floats(words).items()})
    cards = await get_cards(cache, recent + negative)
    for weight_sign, clips, tags_out, creators_out in ((1.0, recent, state.live_tags, state.live_creators),
                                                       (-1.0, negative, state.live_tags, state.live_creators)):
        vectors = []
        for rank, clip_id in enumerate(clips):
            card = cards.get(clip_id)
            if card is None:
                continue
            weight = weight_sign * LIVE_DECAY ** rank  # the latest events weigh most
            for tag in card.hashtags:
                tags_out[tag] = tags_out.get(tag, 0.0) + weight
            creators_out[card.creator_id] = creators_out.get(card.creator_id, 0.0) + weight
            # Caption words say what a clip shows more reliably than its hashtag, and remember as
            # far back as the content centroid: a viewer's several topics, not only the last one.
            for word in card.words:
                state.live_words[word] = state.live_words.get(word, 0.0) + weight_sign * CONTENT_DECAY ** rank
            if card.sketch is not None:
                vectors.append(CONTENT_DECAY ** rank * card.sketch)
        if vectors:
            centroid = np.sum(vectors, axis=0)
            centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
            if weight_sign > 0:
                state.taste = centroid
            else:
                state.dislike = centroid
    return state


async def clip_stats(cache: Cache, clip_ids: list[int]) -> dict[int, dict[str, float]]:
    found = await cache.hget_many([ckey(c) for c in clip_ids])
    return {clip_id: _floats(raw) for clip_id, raw in zip(clip_ids, found, strict=True)}
