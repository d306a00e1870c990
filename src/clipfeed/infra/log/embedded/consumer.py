"""A member of a consumer group on the embedded log.

Shared groups need no membership: any member leases any due record. Partitioned members keep
their heartbeat and partition leases in the group's membership document (``membership.py``),
renewed by a background task every third of ``ack_wait`` and rebalanced during ``fetch`` as
soon as something changed, so a partition moves within one poll of being released and within
``ack_wait`` of its owner going silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from clipfeed.core.errors import Gone, Invalid
from clipfeed.infra.log import Record
from clipfeed.infra.log.embedded import groups as groups
from clipfeed.infra.log.embedded.store import TopicRow, now_ms, to_record

if TYPE_CHECKING:
    from clipfeed.infra.log.embedded.log import EmbeddedEventLog

log = logging.getLogger(__name__)

# How often an idle fetch looks again by itself: for records that time alone makes deliverable
# (a retry's delay over, another member's lease lapsed). Appends wake it at once: this
# process's through the writer, other processes' through the log's watcher (``log.WATCH_S``).
IDLE_POLL_S = 0.25


class EmbeddedConsumer:
    def __init__(self, event_log: EmbeddedEventLog, topic: TopicRow, group_id: int, *, shared: bool,
                 ack_wait: float, max_in_flight: int, member_id: str) -> None:
        self._log = event_log
        self._topic = topic
        self._group_id = group_id
        self._shared = shared
        self._ack_wait_ms = max(1, int(ack_wait * 1000))
        self._ttl = ack_wait
        self._max_in_flight = max_in_flight
        self._member_id = member_id
        self._turn = 0
        self._heartbeat: asyncio.Task[None] | None = None
        self._woken = False
        self._closed = False

    @property
    def member_id(self) -> str:
        return self._member_id

    async def start(self) -> None:
        if not self._shared:
            await self._log.writer.submit(self._rebalance)
            self._heartbeat = asyncio.create_task(self._heartbeat_forever())

    async def fetch(self, max_records: int = 100, timeout: float = 1.0) -> list[Record]:
        self._check_open()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        signal = self._log.signal(self._topic.name)
        first = True
        while True:
            signal.clear()
            # After a first empty attempt, look on the reader before taking the write lock.
            if first or await self._log.reader.run(self._has_work):
                deliveries = await self._log.writer.submit(lambda conn: self._lease(conn, max_records))
                if deliveries:
                    return [to_record(self._topic.name, row, count) for row, count in deliveries]
            first = False
            remaining = deadline - loop.time()
            if remaining <= 0 or self._woken:
                self._woken = False
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(signal.wait(), min(remaining, IDLE_POLL_S))

    def wake(self) -> None:
        self._woken = True
        self._log.signal(self._topic.name).set()  # the other consumers of the topic look once more

    async def ack(self, record: Record) -> None:
        await self.ack_many([record])

    async def ack_many(self, records: Sequence[Record]) -> None:
        keys = self._keys(records)
        if keys:
            await self._log.writer.submit(lambda conn: groups.ack(conn, self._group_id, keys))

    async def nack(self, record: Record, delay: float = 0.0) -> None:
        keys = self._keys([record])
        due = now_ms() + int(max(0.0, delay) * 1000)
        await self._log.writer.submit(lambda conn: groups.nack(conn, self._group_id, keys, due),
                                      wake=self._topic.name)

    async def touch(self, record: Record) -> None:
        keys = self._keys([record])
        deadline = now_ms() + self._ack_wait_ms
        await self._log.writer.submit(
            lambda conn: groups.touch(conn, self._group_id, keys, self._member_id, deadline))

    async def assigned_partitions(self) -> list[int]:
        self._check_open()
        if self._shared:
            return list(range(self._topic.partitions))
        return await self._log.writer.submit(lambda conn: self._readable(conn, time.time(), rebalance=True))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._stop_heartbeat()
        self._log.forget(self)
        await self._log.writer.submit(self._leave, wake=self._topic.name)

    async def stop_heartbeat(self) -> None:
        """Stop proving this member is alive without leaving, as a hung or killed process
        would: its partitions and leases pass to others once they lapse (for tests and drills)."""
        await self._stop_heartbeat()

    # -- on the writer / reader threads -------------------------------------------------------

    def _lease(self, conn: sqlite3.Connection, max_records: int) -> list[groups.Delivery]:
        now = time.time()
        partitions = self._readable(conn, now, rebalance=self._heartbeat is not None)
        now_ms = int(now * 1000)
        room = self._max_in_flight - groups.in_flight(conn, self._group_id, self._member_id, now_ms)
        # Start at a different partition each time so a busy one cannot starve the others.
        self._turn += 1
        if partitions:
            shift = self._turn % len(partitions)
            partitions = partitions[shift:] + partitions[:shift]
        return groups.fetch(conn, topic_id=self._topic.id, group_id=self._group_id, partitions=partitions,
                            member=self._member_id, deadline=now_ms + self._ack_wait_ms, now=now_ms,
                            limit=min(max_records, room))

    def _has_work(self, conn: sqlite3.Connection) -> bool:
        now = time.time()
        if not self._shared:
            membership = groups.load_membership(conn, self._group_id)
            if self._heartbeat is not None and membership.needs_rebalance(
                    self._member_id, self._topic.partitions, now):
                return True
        partitions = self._readable(conn, now, rebalance=False)
        return groups.has_work(conn, self._topic.id, self._group_id, partitions, int(now * 1000))

    def _readable(self, conn: sqlite3.Connection, now: float, *, rebalance: bool) -> list[int]:
        """Partitions this member may read now, rebalancing first when that changes anything."""
        if self._shared:
            return list(range(self._topic.partitions))
        membership = groups.load_membership(conn, self._group_id)
        if rebalance and membership.needs_rebalance(self._member_id, self._topic.partitions, now):
            membership.rebalance(self._member_id, self._topic.partitions, now, self._ttl)
            groups.save_membership(conn, self._group_id, membership)
        return membership.owned_by(self._member_id, now)

    def _rebalance(self, conn: sqlite3.Connection) -> None:
        membership = groups.load_membership(conn, self._group_id)
        membership.rebalance(self._member_id, self._topic.partitions, time.time(), self._ttl)
        groups.save_membership(conn, self._group_id, membership)

    def _leave(self, conn: sqlite3.Connection) -> None:
        groups.release(conn, self._group_id, self._member_id)
        if not self._shared:
            membership = groups.load_membership(conn, self._group_id)
            membership.leave(self._member_id)
            groups.save_membership(conn, self._group_id, membership)

    # -- helpers ---------------------------------------------------------------------------------

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                await self._log.writer.submit(self._rebalance, wake=self._topic.name)
            except Exception as exc:  # keep beating: a missed beat only risks losing partitions
                log.warning("event log heartbeat of %s failed: %s", self._member_id, exc)

    async def _stop_heartbeat(self) -> None:
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _keys(self, records: Sequence[Record]) -> list[tuple[int, int]]:
        for record in records:
            if record.topic != self._topic.name:
                raise Invalid(f"record of topic {record.topic!r} acked on {self._topic.name!r}")
        return [(r.partition, r.offset) for r in records]

    def _check_open(self) -> None:
        if self._closed:
            raise Gone("this consumer has left its group")
