"""Event-time windows and per-partition watermarks.

A partition's watermark is the newest event time seen on it minus the allowed lateness
(``CLIPFEED_STREAM_ALLOWED_LATENESS_S``). An event older than the watermark at the start of
its batch is *late*: the windowed live features leave it out (their windows are considered
final), while counters and trending, which are not windowed, still count it. Out-of-order
events within the lateness therefore change nothing. Watermarks are kept in the cache
(``wm:{group}:{topic}:{partition}``) so a restarted worker goes on from where it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from prometheus_client import Counter

from clipfeed.infra.log import Record
from clipfeed.stream.activity import Activity

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

LATE = Counter("clipfeed_stream_late_events_total", "Events behind their partition's watermark", ["group"])
WINDOW_S = 300          # tumbling windows of live features
LIVE_SPAN_S = 3600      # live rates cover the last hour


def window_of(ts: float) -> int:
    return int(ts // WINDOW_S) * WINDOW_S


def watermark_key(group: str, topic: str, partition: int) -> str:
    return f"wm:{group}:{topic}:{partition}"


class Watermarks:
    """The newest event time per partition of one group's topic (one worker's view)."""

    def __init__(self, group: str, topic: str, lateness: float) -> None:
        self.group, self.topic, self.lateness = group, topic, lateness
        self.newest: dict[int, float] = {}
        self._loaded: set[int] = set()

    async def late_events(self, records: list[Record], activities: list[Activity], *, services: Services) -> set[int]:
        """IDs of the batch's late events; then moves the watermarks past the batch."""
        partitions = {r.partition for r in records} - self._loaded
        if partitions:
            stored = await services.cache.get_many([watermark_key(self.group, self.topic, p) for p in partitions])
            for partition, raw in zip(partitions, stored, strict=True):
                if raw is not None:
                    self.newest[partition] = max(self.newest.get(partition, 0.0), float(orjson.loads(raw)))
            self._loaded |= partitions
        late = {a.id for r, a in zip(records, activities, strict=True)
                if a.ts < self.newest.get(r.partition, float("-inf")) - self.lateness}
        if late:
            LATE.labels(self.group).inc(len(late))
        changed: dict[str, bytes] = {}
        for record, activity in zip(records, activities, strict=True):
            if activity.ts > self.newest.get(record.partition, float("-inf")):
                self.newest[record.partition] = activity.ts
                changed[watermark_key(self.group, self.topic, record.partition)] = orjson.dumps(activity.ts)
        if changed:
            await services.cache.set_many(changed, ttl=7 * 86400)
        return late

    def watermark(self, partition: int) -> float | None:
        newest = self.newest.get(partition)
        return None if newest is None else newest - self.lateness


async def get_watermarks(*, services: Services, group: str, topic: str, lateness: float) -> dict[int, float]:
    """Watermark (epoch seconds) per partition that has seen events."""
    partitions = await services.log.partitions(topic)
    stored = await services.cache.get_many([watermark_key(group, topic, p) for p in range(partitions)])
    return {p: float(orjson.loads(raw)) - lateness for p, raw in enumerate(stored) if raw is not None}
