"""Compaction: the ``activity.users`` topic (every client and social event once) into Parquet
parts, one per (date, hour) of event time per flush.

Killed half-way: records are acknowledged only after their parts are stored, so a crash
before that writes the same events again into new parts; every job reads the events
deduplicated by event ID, so a copy changes no result.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from clipfeed.core.contract import Topic
from clipfeed.events.topics import ensure_topics
from clipfeed.infra.log import Consumer, Record
from clipfeed.lake.layout import EVENT_SCHEMA, part_key
from clipfeed.stream.activity import Activity, PoisonEvent, decode
from clipfeed.stream.clip_meta import ClipMeta, clip_meta

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
GROUP = "batch-lake"
DIRTY_KEY = "lake:dirty_days"  # sorted set: days with new parts since the last job run


async def open_consumer(*, services: Services) -> Consumer:
    await ensure_topics(services=services)
    settings = services.settings
    return await services.log.consumer(Topic.ACTIVITY_USERS, GROUP, shared=True,
                                       ack_wait=settings.lake_flush_interval_s + 120,
                                       max_in_flight=settings.lake_max_rows_per_part + 1000)


async def compact_once(consumer: Consumer, *, services: Services, max_wait: float | None = None,
                       stop: asyncio.Event | None = None) -> int:
    """Gather records for up to ``max_wait`` seconds (or a part's worth, or until ``stop`` is
    set: a stopping worker writes what it gathered rather than waiting out the interval),
    store them as parts, acknowledge them; returns how many events were written."""
    settings = services.settings
    max_wait = settings.lake_flush_interval_s if max_wait is None else max_wait
    limit = settings.lake_max_rows_per_part
    deadline = time.monotonic() + max_wait
    records: list[Record] = []
    while len(records) < limit and not (stop is not None and stop.is_set()):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        records += await consumer.fetch(min(5000, limit - len(records)), timeout=min(left, 1.0))
    if not records:
        return 0
    activities: list[Activity] = []
    for record in records:
        try:
            activities.append(decode(record.value))
        except PoisonEvent as exc:
            await services.log.append(Topic.dead_letters(GROUP), record.value, key=record.key,
                                      headers={"error": str(exc)[:500], "source_topic": record.topic,
                                               "source_partition": str(record.partition),
                                               "source_offset": str(record.offset)})
    written = await write_parts(activities, services=services)
    await consumer.ack_many(records)
    return written


async def write_parts(activities: list[Activity], *, services: Services) -> int:
    metas = await clip_meta({a.clip_id for a in activities if a.clip_id is not None}, services=services)
    by_hour: dict[tuple[str, int], list[Activity]] = defaultdict(list)
    for activity in activities:
        moment = datetime.fromtimestamp(activity.ts, UTC)
        by_hour[(moment.date().isoformat(), moment.hour)].append(activity)
    for (day, hour), items in sorted(by_hour.items()):
        rows = [_row(a, day, hour, metas) for a in items]
        table = pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        first = min(a.received_ms for a in items)
        key = part_key(day, hour, f"part-{first:013d}-{uuid.uuid4().hex[:8]}")
        await services.blobs.put(key, buffer.getvalue(), content_type="application/vnd.apache.parquet")
    if by_hour:
        await services.cache.zadd(DIRTY_KEY, {day: time.time() for day, _ in by_hour})
    return len(activities)


def _row(activity: Activity, day: str, hour: int, metas: dict[int, ClipMeta]) -> dict[str, object]:
    meta = metas.get(activity.clip_id) if activity.clip_id is not None else None
    return {
        "event_id": activity.id, "type": activity.type, "ts_ms": int(activity.ts * 1000), "day": day,
        "hour": hour, "received_ms": activity.received_ms, "viewer": activity.viewer, "user_id": activity.user_id,
        "clip_id": activity.clip_id, "creator_id": activity.creator_id or (meta.owner_id if meta else None),
        "session_id": activity.session_id or None, "device": activity.device or None,
        "network": activity.network or None, "source": activity.source or None, "region": activity.region or None,
        "watch_ms": activity.watch_ms or None, "position_ms": activity.position_ms,
        "duration_ms": activity.duration_ms, "followee_id": activity.followee_id,
        "comment_id": activity.comment_id,
    }
