"""The stream role's processors (registered in ``clipfeed.workers``):

| group | consumes | does |
|---|---|---|
| ``stream-relay`` | ``social`` | re-keys social events onto ``activity.clips`` / ``activity.users`` |
| ``stream-catalog`` | ``clips`` | clip metadata and the live-clip set in the cache |
| ``stream-clips`` | ``activity.clips`` | counters, clip live features, trending |
| ``stream-users`` | ``activity.users`` | viewers' interest profiles |

All are partitioned consumer groups: start more ``clipfeed worker stream`` processes and they
split the partitions. Every handler is idempotent (IDs), so redelivery after a crash is safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import ClassVar

import structlog

from clipfeed.core import contract
from clipfeed.core.contract import ClipChanged, ClipDeleted, Topic
from clipfeed.core.events import Event
from clipfeed.events.topics import ensure_topics
from clipfeed.infra.log import OutgoingRecord, Record
from clipfeed.runtime.consumers import Processor
from clipfeed.runtime.services import Services
from clipfeed.stream import clip_features, counters, trending, user_features
from clipfeed.stream.activity import CLIP_SOCIAL_TYPES, PoisonEvent, decode_all, engagement_records
from clipfeed.stream.clip_meta import apply_clip_events
from clipfeed.stream.windows import Watermarks

log = structlog.get_logger(__name__)


class StreamProcessor(Processor):
    shared: ClassVar[bool] = False
    batch_size: ClassVar[int] = 1000   # per-batch costs (a transaction, cache round trips) dominate
    ack_wait: ClassVar[float] = 10.0   # a dead worker's partitions move on after this
    max_deliveries: ClassVar[int] = 3

    async def reset(self) -> None:
        """Drop the derived state so a replay from the start rebuilds it."""
        raise NotImplementedError(f"{self.group} cannot be rebuilt from scratch; replay without --rebuild")


class RelayProcessor(StreamProcessor):
    group: ClassVar[str] = "stream-relay"
    topics: ClassVar[Sequence[str]] = [Topic.SOCIAL]

    async def handle(self, records: list[Record]) -> None:
        records = engagement_records(records)
        if not records:
            return
        activities = decode_all(records)
        await ensure_topics(services=self.services)
        pairs = list(zip(records, activities, strict=True))
        to_clips = [OutgoingRecord(r.value, key=str(a.clip_id).encode())
                    for r, a in pairs if a.type in CLIP_SOCIAL_TYPES]
        to_users = [OutgoingRecord(r.value, key=a.viewer.encode()) for r, a in pairs]
        # Killed between the two appends: the batch is redelivered and appended again with the
        # same envelope IDs, which the downstream groups drop.
        await asyncio.gather(self.services.log.append_batch(Topic.ACTIVITY_CLIPS, to_clips),
                             self.services.log.append_batch(Topic.ACTIVITY_USERS, to_users))


class CatalogProcessor(StreamProcessor):
    group: ClassVar[str] = "stream-catalog"
    topics: ClassVar[Sequence[str]] = [Topic.CLIPS]

    async def handle(self, records: list[Record]) -> None:
        events: list[tuple[int, ClipChanged | ClipDeleted]] = []
        for record in records:
            try:
                event = Event.decode(record.value)
                clip = contract.parse(event)
            except ValueError as exc:
                raise PoisonEvent(f"unreadable clip event: {exc}") from exc
            if isinstance(clip, ClipChanged | ClipDeleted):
                events.append((event.id, clip))
        if events:
            await apply_clip_events(events, services=self.services)


class ClipStreamProcessor(StreamProcessor):
    group: ClassVar[str] = "stream-clips"
    topics: ClassVar[Sequence[str]] = [Topic.ACTIVITY_CLIPS]

    def __post_init__(self) -> None:
        self.watermarks = Watermarks(self.group, Topic.ACTIVITY_CLIPS, self.services.settings.stream_allowed_lateness_s)

    async def handle(self, records: list[Record]) -> None:
        activities = decode_all(records)
        late = await self.watermarks.late_events(records, activities, services=self.services)
        now = time.time()
        applied = await counters.apply(activities, now=now, services=self.services)
        # A crash between the commit above and the cache writes below costs the live features
        # and trending this batch (its events are already marked applied): they are decayed
        # estimates, while the counters stay exact.
        await clip_features.update(applied.fresh, applied.hits, late, now=now, services=self.services)

    async def reset(self) -> None:
        import sqlalchemy as sa

        from clipfeed.stream.models import ClipAudience, ClipStats, StreamApplied

        clip_ids: list[int] = []
        for shard in range(self.services.db.shard_count):
            async with self.services.db.shard_session_at(shard) as session:
                clip_ids += list(await session.scalars(sa.select(ClipStats.clip_id)))
                for table in (ClipStats, ClipAudience, StreamApplied):
                    await session.execute(sa.delete(table))
        for start in range(0, len(clip_ids), 1000):
            chunk = clip_ids[start:start + 1000]
            await self.services.cache.delete(*(counters.counts_key(c) for c in chunk))
            await clip_features.clear(chunk, services=self.services)
        await trending.clear(services=self.services)
        partitions = await self.services.log.partitions(Topic.ACTIVITY_CLIPS)
        await self.services.cache.delete(*(f"wm:{self.group}:{Topic.ACTIVITY_CLIPS}:{p}" for p in range(partitions)))


class UserStreamProcessor(StreamProcessor):
    group: ClassVar[str] = "stream-users"
    topics: ClassVar[Sequence[str]] = [Topic.ACTIVITY_USERS]

    def __post_init__(self) -> None:
        self.embeddings = user_features.EmbeddingSource()

    async def handle(self, records: list[Record]) -> None:
        await user_features.update(decode_all(records), self.embeddings, services=self.services)


STREAM_PROCESSORS: list[type[StreamProcessor]] = [RelayProcessor, CatalogProcessor, ClipStreamProcessor,
                                                  UserStreamProcessor]
PRUNE_EVERY_S = 600.0


async def upkeep(stop: asyncio.Event, *, services: Services) -> None:
    """Topics with their retention at start; every ten minutes, applied IDs past the horizon
    are pruned and trending sets trimmed to their best 10,000."""
    while not stop.is_set():
        try:
            await ensure_topics(services=services)
            removed = await counters.prune_applied(services=services,
                                                   older_than_s=services.settings.stream_dedupe_horizon_s)
            await trending.trim(services=services)
            if removed:
                log.info("stream.pruned_applied_ids", removed=removed)
        except Exception as exc:  # upkeep must never take the role down
            log.warning("stream.upkeep_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PRUNE_EVERY_S)
