"""Feedback folded a batch at a time: what ``recs-feedback`` does with playback events.

This is where the feedback rules live: labels on open impressions (training data), the viewer's
and the clip's counters, the live profile, long-term affinities, trending heat. A batch has the
effect of its new events folded one by one in order (a test holds the two equal), in a fixed
number of round trips per batch instead of a dozen per event:

1. claim every event ID (``SET NX`` of ``recs:evt:<id>``, one pipeline): a redelivered event,
   or one seen twice in the batch, is dropped here;
2. read the impressions, the clip cards and the viewers' stats (three reads, concurrently);
3. write labels, viewer and clip state, trending and popularity (one pipeline); increments of
   the same hash field or sorted-set member are summed, order-sensitive writes (the live
   profile's ``zadd`` + ``ztrim``) keep the events' order;
4. drop clips past their first impressions from the fresh pool and stamp the viewers' buffers
   dirty (one pipeline, after the state it announces), then schedule at most one refill per
   viewer.

Per-viewer order holds because the worker is the only writer of a viewer's state (records are
partitioned by viewer) and each viewer's events are planned in record order; the long-term
affinity's event count is read once and counted on locally for the same reason.

Killed half-way: the event IDs are claimed before anything is written, so a crash (or a cache
outage) during step 3 or 4 loses some of that batch's updates and never applies an event twice
(a lost like or skip costs a little freshness; a double-counted one would skew the profile).
A failure in step 2 has written nothing, so the claims are released and the redelivery
applies the events in full.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from clipfeed.infra.cache import Cache, Write
from clipfeed.recs.cards import FRESH_POOL, get_cards
from clipfeed.recs.profile import (
    HEAT,
    LONG_TERM_GROWTH,
    LONG_TERM_MAX_EVENTS,
    MOVES_FEED,
    NEGATIVE,
    POSITIVE,
    RECENT_KEPT,
    STATE_TTL_S,
    TASTE,
    ckey,
    dirty_key,
    known_key,
    live_part,
    moves_feed,
    ukey,
)
from clipfeed.recs.signals import TREND_BUCKET_S, trend_key
from clipfeed.recs.training import IMPRESSION_TTL_S, LABEL_FIELDS, imp_key, lab_key
from clipfeed.recs.viewers import FeedViewer

DEDUPE_TTL_S = 2 * 86400.0
# Signals after which the worker rebuilds the viewer's buffer. Not a completion, and not a leave:
# a re-rank of the buffer answers it on the next page, and rebuilding after every play left
# within seconds (most swipes) would be a full build per swipe; in the simulator the re-rank
# alone also did better (152 against 134 s a session, three seeds).
REFILL_KINDS = MOVES_FEED - {"complete", "leave"}


def event_key(event_id: int) -> str:
    return f"recs:evt:{event_id}"


@dataclass(frozen=True, slots=True)
class Feedback:
    """One playback or engagement event, as the feed reads it."""

    event_id: int
    viewer: FeedViewer
    clip_id: int
    kind: str
    watch_ms: float = 0.0
    at: float | None = None


class _Plan:
    """The writes of a batch: increments summed per hash (one ``hincr_floats``) or sorted-set
    member in first-seen order, every other write in order."""

    def __init__(self) -> None:
        self.writes: list[Write] = []
        self._hashes: dict[tuple[str, float | None], int] = {}
        self._members: dict[tuple[str, str, float | None], int] = {}

    def hincr(self, key: str, field: str, amount: float, ttl: float | None) -> int:
        """Add to ``field`` of the hash ``key``; returns the write's position."""
        position = self._hashes.get((key, ttl))
        if position is None:
            position = self._hashes[key, ttl] = len(self.writes)
            self.writes.append(Write("hincr_floats", key, ({},), ttl=ttl))
        amounts = self.writes[position].args[0]
        amounts[field] = amounts.get(field, 0.0) + amount
        return position

    def zincr(self, key: str, member: str, amount: float, ttl: float | None) -> None:
        position = self._members.get((key, member, ttl))
        if position is None:
            self._members[key, member, ttl] = len(self.writes)
            self.writes.append(Write("zincr", key, (member, amount), ttl=ttl))
        else:
            old = self.writes[position]
            self.writes[position] = Write("zincr", key, (member, old.args[1] + amount), ttl=ttl)

    def then(self, write: Write) -> None:
        self.writes.append(write)


async def fold(cache: Cache, events: Sequence[Feedback], *, fresh_impressions: int = 30) -> list[Feedback]:
    """Apply the events not seen before (see the module docstring); returns those."""
    claims = await cache.write_many([Write("add", event_key(e.event_id), (b"1",), ttl=DEDUPE_TTL_S)
                                     for e in events])
    new = [event for event, claimed in zip(events, claims, strict=True) if claimed]
    if not new:
        return []
    viewers = list(dict.fromkeys(e.viewer.key for e in new))
    imp_keys = list(dict.fromkeys(imp_key(e.viewer.key, e.clip_id) for e in new))
    try:
        served, cards, stats = await asyncio.gather(
            cache.get_many(imp_keys), get_cards(cache, list(dict.fromkeys(e.clip_id for e in new))),
            cache.hget_many([ukey(v, "stats") for v in viewers]))
    except BaseException:
        # Nothing is written yet: release the claims so the redelivery applies these events.
        with contextlib.suppress(Exception):
            await cache.delete(*(event_key(e.event_id) for e in new))
        raise
    explore = {key: raw is not None and bool(orjson.loads(raw).get("e"))
               for key, raw in zip(imp_keys, served, strict=True)}
    open_imps = {key for key, raw in zip(imp_keys, served, strict=True) if raw is not None}
    counts = {v: float(found.get("n", b"0")) for v, found in zip(viewers, stats, strict=True)}
    plan, shown = _Plan(), dict[int, int]()
    for viewer in viewers:
        plan.then(Write("set", known_key(viewer), (b"1",), ttl=STATE_TTL_S))
    for event in new:
        viewer, clip_id, kind, watch_ms = event.viewer.key, event.clip_id, event.kind, event.watch_ms
        at = event.at or time.time()
        # The label on the open impression (training data).
        served_key = imp_key(viewer, clip_id)
        explored = explore[served_key]
        if served_key in open_imps:
            field = LABEL_FIELDS.get(kind)
            if field:
                plan.then(Write("hset", lab_key(viewer, clip_id), ({field: b"1"},), ttl=IMPRESSION_TTL_S))
            if watch_ms:
                plan.hincr(lab_key(viewer, clip_id), "watch_ms", watch_ms, IMPRESSION_TTL_S)
        # The viewer's and the clip's state.
        stats_key, clip_key = ukey(viewer, "stats"), ckey(clip_id)
        card = cards.get(clip_id)
        if kind == "impression":
            plan.hincr(stats_key, "imp", 1, STATE_TTL_S)
            if explored:
                plan.hincr(stats_key, "explore_imp", 1, STATE_TTL_S)
            shown[clip_id] = plan.hincr(clip_key, "imp", 1, STATE_TTL_S)
            continue
        if watch_ms:
            plan.hincr(clip_key, "watch_ms", watch_ms, STATE_TTL_S)
            plan.hincr(stats_key, "watch_ms", watch_ms, STATE_TTL_S)
        if kind in POSITIVE or kind in NEGATIVE:
            plan.hincr(clip_key, kind, 1, STATE_TTL_S)
            plan.hincr(stats_key, kind, 1, STATE_TTL_S)
            plan.hincr(stats_key, "pos" if kind in POSITIVE else "neg", 1, STATE_TTL_S)
            if kind in POSITIVE:
                plan.hincr(clip_key, "engaged", 1, STATE_TTL_S)
                if explored:
                    plan.hincr(stats_key, "explore_hit", 1, STATE_TTL_S)
        part = live_part(kind, watch_ms)
        if part is not None:  # the same writes as ``clipfeed.recs.session.note`` (they commute)
            live = ukey(viewer, part)
            plan.then(Write("zadd", live, ({str(clip_id): at},), ttl=STATE_TTL_S))
            plan.then(Write("ztrim", live, (RECENT_KEPT,)))
        if kind == "not_interested":
            plan.then(Write("sadd", ukey(viewer, "hidden"), (str(clip_id),), ttl=STATE_TTL_S))
        taste = TASTE.get(kind, 0.0)
        if card is not None and taste:
            counts[viewer] += 1
            plan.hincr(stats_key, "n", 1, STATE_TTL_S)
            weight = taste * LONG_TERM_GROWTH ** min(counts[viewer], LONG_TERM_MAX_EVENTS)
            for tag in card.hashtags:
                plan.hincr(ukey(viewer, "tags"), tag, weight, STATE_TTL_S)
            for word in card.words:
                plan.hincr(ukey(viewer, "words"), word, weight, STATE_TTL_S)
            plan.hincr(ukey(viewer, "creators"), str(card.creator_id), weight, STATE_TTL_S)
        heat = HEAT.get(kind, 0.0)
        if heat and card is not None:
            bucket = int(at // TREND_BUCKET_S)
            for area in {event.viewer.region, "global"}:
                plan.zincr(trend_key(area, bucket), str(clip_id), heat, TREND_BUCKET_S * 8)
                plan.zincr(f"recs:popular:{area}", str(clip_id), heat, None)
            if card.language:
                plan.zincr(f"recs:popular:lang:{card.language}", str(clip_id), heat, None)
    results = await cache.write_many(plan.writes)
    # A clip whose first batch of impressions is done leaves the fresh pool; the dirty stamp is
    # processing time taken after the state landed: a buffer built before it has not seen it.
    done = [str(c) for c, position in shown.items() if results[position]["imp"] >= fresh_impressions]
    stamp = str(time.time()).encode()
    await cache.write_many([*([Write("zrem", FRESH_POOL, tuple(done))] if done else []),
                            *(Write("set", dirty_key(v), (stamp,), ttl=3600)
                              for v in dict.fromkeys(e.viewer.key for e in new if moves_feed(e.kind, e.watch_ms)))])
    return new


def refill_viewers(applied: Sequence[Feedback]) -> list[FeedViewer]:
    """The viewers whose feed a batch's signals move, once each, in first-seen order."""
    found: dict[str, FeedViewer] = {}
    for event in applied:
        if event.kind in REFILL_KINDS:
            found.setdefault(event.viewer.key, event.viewer)
    return list(found.values())
