"""Per-clip counters, exactly once in effect.

Each batch is applied in one transaction per shard database: the IDs of events already applied
to a clip (``stream_applied``) filter out redeliveries, resent client batches and relayed
duplicates; the viewer's ``clip_audience`` row decides whether a ``play_start`` is a new view
(once per viewer per clip per UTC day of the event time) or a new unique viewer, and the
counters are written with the IDs in the same transaction. A worker killed anywhere leaves
either all of a shard's part of the batch or none of it, and the redelivered batch only applies
what is missing. The cache holds a copy (``cnt:clip:{id}``) written after each commit.

Staleness: a counter in the cache trails the event by the processing lag (p99 about 0.5 s at
5k events/s on either stack, more while a worker has a backlog; bench/RESULTS.md); a copy
read back from the database after a cache miss lives ``READ_BACK_TTL_S`` at most, so a race
with a concurrent update heals within that.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.core import contract
from clipfeed.core.errors import Unavailable
from clipfeed.core.singleflight import SingleFlight
from clipfeed.infra.db import read_rows, utcnow
from clipfeed.stream.activity import Activity
from clipfeed.stream.models import COUNTER_COLUMNS, ClipAudience, ClipCounts, ClipStats, StreamApplied

STATS: sa.Table = ClipStats.__table__  # type: ignore[assignment]
AUDIENCE: sa.Table = ClipAudience.__table__  # type: ignore[assignment]
APPLIED: sa.Table = StreamApplied.__table__  # type: ignore[assignment]

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

COUNTS_TTL_S = 86400.0
READ_BACK_TTL_S = 30.0
DAY_BITS = 62  # view_days remembers this many days back

# Trending contributions, at most one of each kind per viewer, clip and UTC day (per-user caps).
TREND_WEIGHTS = {"view": 1.0, "complete": 1.0, "replay": 0.5, "like": 3.0, "comment": 4.0, "share": 5.0,
                 "bookmark": 3.0}
TREND_BITS = {"complete": 1, "replay": 2, "like": 4, "comment": 8, "share": 16, "bookmark": 32}
TREND_KIND = {"complete": "complete", "replay": "replay", "share": "share", contract.LIKE_ADDED.name: "like",
              contract.COMMENT_CREATED.name: "comment", contract.SHARE_CREATED.name: "share",
              contract.BOOKMARK_ADDED.name: "bookmark"}

# What each event adds to the counters.
DELTAS: dict[str, tuple[tuple[str, int], ...]] = {
    "impression": (("impressions", 1),), "play_start": (("plays", 1),), "progress": (),
    "complete": (("completes", 1),), "replay": (("replays", 1),), "skip": (("skips", 1),),
    "share": (("shares", 1),), "not_interested": (("not_interested", 1),),
    contract.LIKE_ADDED.name: (("likes", 1),), contract.LIKE_REMOVED.name: (("likes", -1),),
    contract.COMMENT_CREATED.name: (("comments", 1),), contract.COMMENT_DELETED.name: (("comments", -1),),
    contract.SHARE_CREATED.name: (("shares", 1),), contract.BOOKMARK_ADDED.name: (("bookmarks", 1),),
    contract.BOOKMARK_REMOVED.name: (("bookmarks", -1),),
}


def counts_key(clip_id: int) -> str:
    return f"cnt:clip:{clip_id}"


@dataclass(frozen=True)
class TrendHit:
    clip_id: int
    region: str
    ts: float
    weight: float


@dataclass
class Applied:
    """The outcome of a batch: what was new, and what trending should add."""

    fresh: list[Activity] = field(default_factory=list)
    hits: list[TrendHit] = field(default_factory=list)
    counts: dict[int, ClipCounts] = field(default_factory=dict)


async def apply(activities: list[Activity], *, services: Services, now: float | None = None) -> Applied:
    """Apply clip-targeted events to the counters (idempotent per event ID)."""
    now = time.time() if now is None else now
    by_clip: dict[int, list[Activity]] = defaultdict(list)
    for activity in activities:
        if activity.clip_id is not None and activity.type in DELTAS:
            by_clip[activity.clip_id].append(activity)
    outcome = Applied()

    async def apply_there(session: AsyncSession, clip_ids: list[int]) -> None:
        await _apply_shard(session, [a for c in clip_ids for a in by_clip[c]], int(now), outcome)

    await services.db.each_shard(list(by_clip), apply_there)
    if outcome.counts:
        await services.cache.set_many({counts_key(c): _encode(n) for c, n in outcome.counts.items()},
                                      ttl=COUNTS_TTL_S)
    return outcome


async def _apply_shard(session: AsyncSession, items: list[Activity], now: int, outcome: Applied) -> None:
    clip_ids = {a.clip_id for a in items if a.clip_id is not None}
    # Plain rows (Core, not ORM objects): this is the hot path of the stream.
    stats = {row[0]: row[1:] for row in await session.execute(
        sa.select(STATS.c.clip_id, *(STATS.c[c] for c in COUNTER_COLUMNS))
        .where(STATS.c.clip_id.in_(clip_ids)).with_for_update())}
    applied = {(c, e) for c, e in await session.execute(
        sa.select(APPLIED.c.clip_id, APPLIED.c.event_id).where(
            APPLIED.c.clip_id.in_(clip_ids), APPLIED.c.event_id.in_({a.id for a in items})))}
    fresh: list[Activity] = []
    for activity in sorted(items, key=lambda a: (a.ts, a.id)):
        pair = (activity.clip_id or 0, activity.id)
        if pair not in applied:
            applied.add(pair)
            fresh.append(activity)
    if not fresh:
        return
    await session.execute(APPLIED.insert(), [
        {"clip_id": a.clip_id, "event_id": a.id, "applied_at": now} for a in fresh])
    audience = await _audience(session, fresh)
    before = {key: row.state() for key, row in audience.items()}
    known = set(audience)
    deltas: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTER_COLUMNS, 0))
    for activity in fresh:
        clip_id = activity.clip_id or 0
        delta = deltas[clip_id]
        for column, amount in DELTAS[activity.type]:
            delta[column] += amount
        delta["watch_ms"] += activity.watch_ms
        row = audience.get((clip_id, activity.viewer))
        if activity.type == "play_start":
            if row is None:
                row = audience[(clip_id, activity.viewer)] = _new_audience(clip_id, activity.viewer)
            first_ever = row.view_day < 0
            if _count_view(row, activity.day):
                delta["views"] += 1
                delta["unique_viewers"] += first_ever
                outcome.hits.append(TrendHit(clip_id, activity.region, activity.ts, TREND_WEIGHTS["view"]))
        kind = TREND_KIND.get(activity.type)
        if kind is not None:
            if row is None:
                row = audience[(clip_id, activity.viewer)] = _new_audience(clip_id, activity.viewer)
            if _take_trend(row, activity.day, TREND_BITS[kind]):
                outcome.hits.append(TrendHit(clip_id, activity.region, activity.ts, TREND_WEIGHTS[kind]))
    await _save_audience(session, audience, known, before)
    await _save_stats(session, stats, deltas, outcome)
    outcome.fresh += fresh


@dataclass(slots=True)
class Audience:
    """A ``clip_audience`` row being worked on."""

    clip_id: int
    viewer: str
    view_day: int = -1
    view_days: int = 0
    trend_day: int = -1
    trend_mask: int = 0
    trend_prev: int = 0

    def state(self) -> tuple[int, int, int, int, int]:
        return self.view_day, self.view_days, self.trend_day, self.trend_mask, self.trend_prev

    def values(self) -> dict[str, object]:
        return {"clip_id": self.clip_id, "viewer": self.viewer, "view_day": self.view_day,
                "view_days": self.view_days, "trend_day": self.trend_day, "trend_mask": self.trend_mask,
                "trend_prev": self.trend_prev}


async def _audience(session: AsyncSession, fresh: list[Activity]) -> dict[tuple[int, str], Audience]:
    wanted = {(a.clip_id or 0, a.viewer) for a in fresh if a.type == "play_start" or a.type in TREND_KIND}
    if not wanted:
        return {}
    rows = await session.execute(sa.select(*AUDIENCE.c).where(
        AUDIENCE.c.clip_id.in_({c for c, _ in wanted}), AUDIENCE.c.viewer.in_({v for _, v in wanted})))
    return {(r[0], r[1]): Audience(*r) for r in rows if (r[0], r[1]) in wanted}


def _new_audience(clip_id: int, viewer: str) -> Audience:
    return Audience(clip_id, viewer)


def _count_view(row: Audience, day: int) -> bool:
    """Whether a play on ``day`` is the viewer's first on that day (any arrival order)."""
    if row.view_day < 0:
        row.view_day, row.view_days = day, 1
        return True
    if day > row.view_day:
        shift = day - row.view_day
        row.view_days = ((row.view_days << shift) | 1) & ((1 << DAY_BITS) - 1) if shift < DAY_BITS else 1
        row.view_day = day
        return True
    back = row.view_day - day
    if back >= DAY_BITS or row.view_days >> back & 1:
        return False
    row.view_days |= 1 << back
    return True


def _take_trend(row: Audience, day: int, bit: int) -> bool:
    """Whether the viewer may still add this kind of trending weight to the clip on ``day``."""
    if day > row.trend_day:
        row.trend_prev = row.trend_mask if day == row.trend_day + 1 else 0
        row.trend_mask, row.trend_day = 0, day
    if day == row.trend_day:
        if row.trend_mask & bit:
            return False
        row.trend_mask |= bit
        return True
    if day == row.trend_day - 1 and not row.trend_prev & bit:
        row.trend_prev |= bit
        return True
    return False  # older than a day behind: trending has decayed it to nothing anyway


async def _save_audience(session: AsyncSession, audience: dict[tuple[int, str], Audience],
                         known: set[tuple[int, str]], before: Mapping[tuple[int, str], tuple[int, ...]]) -> None:
    new = [row.values() for key, row in audience.items() if key not in known]
    changed = [{"b_clip_id": row.clip_id, "b_viewer": row.viewer, **row.values()}
               for key, row in audience.items() if key in known and before[key] != row.state()]
    if new:
        await session.execute(AUDIENCE.insert(), new)
    if changed:
        await session.execute(AUDIENCE.update().where(
            AUDIENCE.c.clip_id == sa.bindparam("b_clip_id"), AUDIENCE.c.viewer == sa.bindparam("b_viewer")), changed)


async def _save_stats(session: AsyncSession, stats: Mapping[int, Sequence[int]],
                      deltas: dict[int, dict[str, int]], outcome: Applied) -> None:
    inserts: list[dict[str, object]] = []
    updates: list[dict[str, object]] = []
    stamp = utcnow()
    for clip_id, delta in deltas.items():
        row = stats.get(clip_id)
        current = {c: (row[i] if row is not None else 0) + delta[c] for i, c in enumerate(COUNTER_COLUMNS)}
        outcome.counts[clip_id] = ClipCounts(clip_id=clip_id, **current)
        if row is None:
            inserts.append({"clip_id": clip_id, **current, "updated_at": stamp})
        else:
            updates.append({"b_clip_id": clip_id, **current, "updated_at": stamp})
    if inserts:
        await session.execute(STATS.insert(), inserts)
    if updates:
        await session.execute(STATS.update().where(STATS.c.clip_id == sa.bindparam("b_clip_id")), updates)


_READING_BACK: SingleFlight[tuple[int, int], ClipCounts] = SingleFlight()


def _encode(counts: ClipCounts) -> bytes:
    return orjson.dumps(counts.as_dict())


async def get_clip_counts(*, services: Services, clip_ids: list[int]) -> dict[int, ClipCounts]:
    """Counters of each clip (zeros for a clip nothing happened to): the cache, else the
    database (and the answer is cached for ``READ_BACK_TTL_S``)."""
    wanted = list(dict.fromkeys(clip_ids))
    if not wanted:
        return {}
    out: dict[int, ClipCounts] = {}
    asked_at = asyncio.get_running_loop().time()
    try:
        cached = await services.cache.get_many([counts_key(c) for c in wanted])
    except Unavailable:  # the cache is down: the database answers (its rows are the record)
        return await read_counts_from_db(services=services, clip_ids=wanted)
    for clip_id, raw in zip(wanted, cached, strict=True):
        if raw is not None:
            out[clip_id] = ClipCounts(**orjson.loads(raw))
    missing = [c for c in wanted if c not in out]
    if missing:
        # A popular clip's counters expiring send every request showing it here at once: the
        # requests of this process read each clip's row once between them.
        async def read_back(keys: list[tuple[int, int]]) -> dict[tuple[int, int], ClipCounts]:
            from_db = await read_counts_from_db(services=services, clip_ids=[c for _, c in keys])
            with contextlib.suppress(Unavailable):  # a copy for the next readers, if the cache takes it
                await services.cache.set_many({counts_key(c): _encode(n) for c, n in from_db.items()},
                                              ttl=READ_BACK_TTL_S)
            return {(scope, c): from_db[c] for scope, c in keys}

        found = await _READING_BACK.run_many([(id(services), c) for c in missing], read_back, asked_at=asked_at)
        out.update({c: counts for (_, c), counts in found.items()})
    return {c: out[c] for c in wanted}


_READ_BACK = sa.select(STATS.c.clip_id, *(STATS.c[c] for c in COUNTER_COLUMNS)).where(
    STATS.c.clip_id.in_(sa.bindparam("ids", expanding=True)))  # built once


async def read_counts_from_db(*, services: Services, clip_ids: list[int]) -> dict[int, ClipCounts]:
    """The state of record, bypassing the cache."""
    by_shard: dict[int, list[int]] = defaultdict(list)
    for clip_id in clip_ids:
        by_shard[services.db.shard_index(clip_id)].append(clip_id)
    out = {c: ClipCounts(clip_id=c) for c in clip_ids}
    for shard, ids in by_shard.items():
        async with services.db.shard_read_session(shard) as session:
            # Plain rows, not ORM objects: a search reads up to a hundred of these.
            for clip_id, *values in await read_rows(session, _READ_BACK, {"ids": ids}):
                out[clip_id] = ClipCounts(clip_id=clip_id, **dict(zip(COUNTER_COLUMNS, values, strict=True)))
    return out


async def prune_applied(*, services: Services, older_than_s: float) -> int:
    """Forget applied event IDs past the dedupe horizon (on every shard database)."""
    cutoff = int(time.time() - older_than_s)
    removed = 0
    for shard in range(services.db.shard_count):
        async with services.db.shard_session_at(shard) as session:
            result = await session.execute(sa.delete(StreamApplied).where(StreamApplied.applied_at < cutoff))
            removed += int(getattr(result, "rowcount", 0) or 0)
    return removed
