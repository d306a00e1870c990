"""Live viewer and clip state in the feature store, and how feedback changes it.

Per viewer: long-term affinities (hashtags, creators; additive), a live profile (the latest
positive and negative clips, which is what makes the next page move after a like or a skip),
engagement counts (skip rate, exploration hits) and a content centroid. Per clip: smoothed
engagement counts. Feedback arrives from playback events and social events
(``clipfeed.recs.worker``); the stream worker is the only writer, one partition per viewer.

Staleness: state is as fresh as the stream worker's lag (seconds); losing the cache loses the
live profile only, which rebuilds from new events.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from clipfeed.infra.cache import Cache
from clipfeed.recs.cards import FRESH_POOL, SKETCH_DIM, get_cards
from clipfeed.recs.signals import TREND_BUCKET_S, trend_key

STATE_TTL_S = 60 * 24 * 3600.0
LIVE_DECAY = 0.75  # weight of the k-th latest event in the live profile: LIVE_DECAY ** k
LONG_TERM_GROWTH = 1.01  # forward decay of long-term affinities per feedback event
LONG_TERM_MAX_EVENTS = 60_000.0  # 1.01 ** 60000 is still a finite float; older profiles stop decaying
RECENT_KEPT = 30
# What each kind of feedback says about the viewer's taste (affinity change per event).
TASTE = {"complete": 1.0, "replay": 1.5, "like": 3.0, "share": 4.0, "follow": 3.0, "comment": 2.0,
         "skip": -1.5, "not_interested": -6.0}
# Engagement for trending and popularity.
HEAT = {"complete": 1.0, "replay": 1.0, "like": 3.0, "share": 5.0, "comment": 3.0, "play_start": 0.2}
POSITIVE = {"complete", "replay", "like", "share", "comment"}
NEGATIVE = {"skip", "not_interested"}
MOVES_FEED = {"like", "share", "skip", "not_interested", "follow", "complete"}


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
    """Everything the ranker needs about a viewer, in three round trips."""
    tags, creators, stats = await cache.hget_many([ukey(viewer, "tags"), ukey(viewer, "creators"),
                                                   ukey(viewer, "stats")])
    recent = [int(m) for m, _ in await cache.ztop(ukey(viewer, "recent"), RECENT_KEPT)]
    negative = [int(m) for m, _ in await cache.ztop(ukey(viewer, "negative"), RECENT_KEPT)]
    hidden = {int(m) for m in await cache.smembers(ukey(viewer, "hidden"))}
    stats_now = _floats(stats)
    # Long-term affinities are stored forward-decayed (see ``apply_feedback``): dividing by
    # the growth at the viewer's current event count gives today's values.
    scale = LONG_TERM_GROWTH ** -stats_now.get("n", 0.0)
    state = ViewerState(viewer, {k: v * scale for k, v in _floats(tags).items()},
                        {int(k): float(v) * scale for k, v in creators.items()}, stats_now, recent, negative, hidden)
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
            if card.sketch is not None:
                vectors.append(abs(weight) * card.sketch)
        if vectors:
            centroid = np.sum(vectors, axis=0)
            centroid /= max(float(np.linalg.norm(centroid)), 1e-9)
            if weight_sign > 0:
                state.taste = centroid
            else:
                state.dislike = centroid
    return state


async def apply_feedback(cache: Cache, *, viewer: str, clip_id: int, kind: str, watch_ms: float = 0.0,
                         region: str = "global", at: float | None = None, explore: bool = False,
                         fresh_impressions: int = 30) -> None:
    """Fold one feedback event into the viewer's and the clip's state (idempotency is the
    caller's job). The one-event reference: the worker folds whole batches with the same
    effect through ``clipfeed.recs.feedback.fold``, and a test holds the two equal."""
    at = at or time.time()
    await cache.set(known_key(viewer), b"1", ttl=STATE_TTL_S)
    card = (await get_cards(cache, [clip_id])).get(clip_id)
    taste = TASTE.get(kind, 0.0)
    stats_key = ukey(viewer, "stats")
    if kind == "impression":
        await cache.hincr_float(stats_key, "imp", 1, ttl=STATE_TTL_S)
        if explore:
            await cache.hincr_float(stats_key, "explore_imp", 1, ttl=STATE_TTL_S)
        shown = await cache.hincr_float(ckey(clip_id), "imp", 1, ttl=STATE_TTL_S)
        if shown >= fresh_impressions:
            await cache.zrem(FRESH_POOL, str(clip_id))  # its first batch of impressions is done
        return
    if watch_ms:
        await cache.hincr_float(ckey(clip_id), "watch_ms", watch_ms, ttl=STATE_TTL_S)
        await cache.hincr_float(stats_key, "watch_ms", watch_ms, ttl=STATE_TTL_S)
    if kind in POSITIVE or kind in NEGATIVE:
        await cache.hincr_float(ckey(clip_id), kind, 1, ttl=STATE_TTL_S)
        await cache.hincr_float(stats_key, kind, 1, ttl=STATE_TTL_S)
        await cache.hincr_float(stats_key, "pos" if kind in POSITIVE else "neg", 1, ttl=STATE_TTL_S)
        if kind in POSITIVE:
            await cache.hincr_float(ckey(clip_id), "engaged", 1, ttl=STATE_TTL_S)
            if explore:
                await cache.hincr_float(stats_key, "explore_hit", 1, ttl=STATE_TTL_S)
    if kind in POSITIVE:
        await cache.zadd(ukey(viewer, "recent"), {str(clip_id): at}, ttl=STATE_TTL_S)
        await cache.ztrim(ukey(viewer, "recent"), RECENT_KEPT)
    elif kind in NEGATIVE:
        await cache.zadd(ukey(viewer, "negative"), {str(clip_id): at}, ttl=STATE_TTL_S)
        await cache.ztrim(ukey(viewer, "negative"), RECENT_KEPT)
    if kind == "not_interested":
        await cache.sadd(ukey(viewer, "hidden"), str(clip_id), ttl=STATE_TTL_S)
    if card is not None and taste:
        # Forward decay by activity: each feedback event grows later weights by
        # ``LONG_TERM_GROWTH``, so older feedback fades with the viewer's own activity (a half-life
        # of ~70 events) and a taste shift wins out without rewriting the hash.
        count = await cache.hincr_float(stats_key, "n", 1, ttl=STATE_TTL_S)
        weight = taste * LONG_TERM_GROWTH ** min(count, LONG_TERM_MAX_EVENTS)
        for tag in card.hashtags:
            await cache.hincr_float(ukey(viewer, "tags"), tag, weight, ttl=STATE_TTL_S)
        await cache.hincr_float(ukey(viewer, "creators"), str(card.creator_id), weight, ttl=STATE_TTL_S)
    heat = HEAT.get(kind, 0.0)
    if heat and card is not None:
        bucket = int(at // TREND_BUCKET_S)
        for area in {region, "global"}:
            await cache.zincr(trend_key(area, bucket), str(clip_id), heat, ttl=TREND_BUCKET_S * 8)
            await cache.zincr(f"recs:popular:{area}", str(clip_id), heat)
        if card.language:
            await cache.zincr(f"recs:popular:lang:{card.language}", str(clip_id), heat)
    if kind in MOVES_FEED:
        # Processing time, not event time: any buffer whose build started before this moment
        # has not seen this signal.
        await cache.set(dirty_key(viewer), str(time.time()).encode(), ttl=3600)


async def clip_stats(cache: Cache, clip_ids: list[int]) -> dict[int, dict[str, float]]:
    found = await cache.hget_many([ckey(c) for c in clip_ids])
    return {clip_id: _floats(raw) for clip_id, raw in zip(clip_ids, found, strict=True)}
