"""A member of a consumer group on JetStream.

* Shared group: one durable pull consumer over all partitions; every member pulls from it, and
  JetStream's own ack-wait, ``+NAK`` (with delay) and ``+WPI`` (in progress) give the leases.
* Partitioned group: one durable pull consumer per partition (filtered on its subject), and a
  member pulls only from the partitions it owns. Ownership is the membership document of
  ``membership.py`` kept in a KV bucket under ``<stream>.<group>`` and changed by
  compare-and-set. Members heartbeat every third of ``ack_wait``, and they also listen to the
  key's subject so that a join, a leave or a release is acted on at once instead of at the
  next beat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api

from clipfeed.core.errors import Conflict, Gone, Invalid
from clipfeed.infra.log import Record
from clipfeed.infra.log.jetstream.errors import translated
from clipfeed.infra.log.jetstream.layout import StreamRef, partition_consumer, shared_consumer, to_record
from clipfeed.infra.log.jetstream.membership import KvMembership
from clipfeed.infra.log.jetstream.pull import NETWORK_MARGIN_S, Puller
from clipfeed.infra.log.membership import Membership, default_member_id

if TYPE_CHECKING:
    from clipfeed.infra.log.jetstream.log import JetStreamEventLog

log = logging.getLogger(__name__)


class JetStreamConsumer:
    def __init__(self, event_log: JetStreamEventLog, ref: StreamRef, group: str, *, shared: bool,
                 ack_wait: float, max_in_flight: int, member_id: str | None) -> None:
        self._log = event_log
        self._ref = ref
        self._group = group
        self._shared = shared
        self._ack_wait = ack_wait
        self._max_in_flight = max_in_flight
        self._member_id = member_id or default_member_id()
        self._pullers: dict[int, Puller] = {}  # shared groups use key -1
        self._in_flight: dict[tuple[int, int], Msg] = {}
        self._membership: KvMembership | None = None
        self._changes: Subscription | None = None
        self._kick = asyncio.Event()
        self._owner_changed = asyncio.Event()
        self._woken = False
        self._rebalancing = asyncio.Lock()
        self._heartbeat: asyncio.Task[None] | None = None
        self._turn = 0
        self._closed = False

    @property
    def member_id(self) -> str:
        return self._member_id

    async def start(self) -> None:
        with translated(f"joining group {self._group}"):
            if self._shared:
                await self._ensure_durable(shared_consumer(self._group), f"{self._ref.subject_prefix}.*",
                                           forbidden=partition_consumer(self._group, 0))
                puller = Puller(self._log.nc, self._ref.stream, shared_consumer(self._group))
                await puller.start()
                self._pullers[-1] = puller
                return
            for partition in range(self._ref.partitions):
                await self._ensure_durable(partition_consumer(self._group, partition),
                                           self._ref.subject(partition), forbidden=shared_consumer(self._group))
            self._membership = await KvMembership.open(self._log.js, f"{self._log.prefix}_groups",
                                                       f"{self._ref.stream}.{self._group}")
            self._changes = await self._membership.watch(self._log.nc, self._on_change)
            await self._rebalance()
        self._heartbeat = asyncio.create_task(self._heartbeat_forever())

    async def fetch(self, max_records: int = 100, timeout: float = 1.0) -> list[Record]:
        self._check_open()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with translated(f"fetching from {self._ref.topic}"):
            while True:
                self._owner_changed.clear()
                pullers = list(self._pullers.values())
                self._turn += 1
                if pullers:
                    shift = self._turn % len(pullers)
                    pullers = pullers[shift:] + pullers[:shift]
                msgs: list[Msg] = []
                for puller in pullers:  # what is there now, without waiting
                    msgs += await puller.pull(max_records - len(msgs), wait=0)
                    if len(msgs) >= max_records:
                        break
                remaining = deadline - loop.time()
                if not msgs and remaining > 0 and not self._woken:
                    msgs = await self._first_to_arrive(pullers, max_records, remaining)
                if msgs or loop.time() >= deadline or self._woken:
                    self._woken = False
                    break
        records = []
        for msg in msgs:
            record = to_record(self._ref.topic, msg)
            self._in_flight[(record.partition, record.offset)] = msg
            records.append(record)
        return records

    async def ack(self, record: Record) -> None:
        await self.ack_many([record])

    async def ack_many(self, records: Sequence[Record]) -> None:
        with translated("acknowledging records"):
            for msg in self._take(records):
                await msg.ack()
            await self._log.nc.flush(timeout=5)  # the server has read every ack once this returns

    async def nack(self, record: Record, delay: float = 0.0) -> None:
        with translated("nacking a record"):
            for msg in self._take([record]):
                await msg.nak(delay=delay if delay > 0 else None)
            await self._log.nc.flush(timeout=5)

    async def touch(self, record: Record) -> None:
        msg = self._in_flight.get((record.partition, record.offset))
        if msg is not None:
            with translated("extending a lease"):
                await msg.in_progress()
                await self._log.nc.flush(timeout=5)

    async def assigned_partitions(self) -> list[int]:
        self._check_open()
        if self._shared:
            return list(range(self._ref.partitions))
        with translated(f"rebalancing group {self._group}"):
            assert self._membership is not None
            state = await self._membership.read()
            if state.needs_rebalance(self._member_id, self._ref.partitions, time.time()):
                await self._rebalance()
        return sorted(self._pullers)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._log.forget(self)
        await self.stop_heartbeat()
        with translated(f"leaving group {self._group}"):
            unfinished = list(self._in_flight.values())
            self._in_flight.clear()
            for partition in list(self._pullers):
                unfinished += await self._drop_puller(partition)
            for msg in unfinished:  # hand them to the other members now, not after ack_wait
                with contextlib.suppress(nats.errors.Error):
                    await msg.nak()
            if not self._shared:
                assert self._membership is not None
                await self._membership.change(lambda state: state.leave(self._member_id))
            await self._log.nc.flush(timeout=5)

    async def stop_heartbeat(self) -> None:
        """Stop proving this member is alive without leaving, as a hung or killed process
        would: its partitions pass to others once they lapse (for tests and drills)."""
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        changes, self._changes = self._changes, None
        if changes is not None:
            with contextlib.suppress(Exception):
                await changes.unsubscribe()

    # -- partition ownership -------------------------------------------------------------------

    async def _rebalance(self) -> None:
        async with self._rebalancing:
            ttl, count = self._ack_wait, self._ref.partitions
            assert self._membership is not None
            state = await self._membership.change(
                lambda state: state.rebalance(self._member_id, count, time.time(), ttl))
            owned = set(state.owned_by(self._member_id, time.time()))
            if owned != set(self._pullers):
                await self._follow(owned)

    async def _follow(self, owned: set[int]) -> None:
        """Pull from exactly the ``owned`` partitions, handing back what the others buffered."""
        for partition in sorted(set(self._pullers) - owned):
            for msg in await self._drop_puller(partition):
                with contextlib.suppress(nats.errors.Error):
                    await msg.nak()
        for partition in sorted(owned - set(self._pullers)):
            puller = Puller(self._log.nc, self._ref.stream, partition_consumer(self._group, partition))
            await puller.start()
            self._pullers[partition] = puller
        self._owner_changed.set()

    def wake(self) -> None:
        self._woken = True
        self._owner_changed.set()  # what ends ``_first_to_arrive``'s wait; the loop then sees why

    def _on_change(self, state: Membership) -> None:
        # Another member (or we) changed the document: act now if it affects us.
        if state.needs_rebalance(self._member_id, self._ref.partitions, time.time()):
            self._kick.set()

    async def _heartbeat_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), self._ack_wait / 3)
            self._kick.clear()
            try:
                await self._rebalance()
            except Exception as exc:  # keep beating: a missed beat only risks losing partitions
                log.warning("heartbeat of %s in group %s failed: %s", self._member_id, self._group, exc)

    # -- helpers ---------------------------------------------------------------------------------

    async def _first_to_arrive(self, pullers: list[Puller], max_records: int, wait: float) -> list[Msg]:
        """Wait on every owned partition at once; the first that delivers wins. Pulls still
        open afterwards keep their late messages for the next fetch. Returns early, empty, when
        the partitions this member owns change."""
        if not pullers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._owner_changed.wait(), wait)
            return []
        ownership = asyncio.ensure_future(self._owner_changed.wait())
        waiting = {asyncio.ensure_future(p.pull(max_records, wait=wait)): p for p in pullers}
        msgs: list[Msg] = []
        try:
            while waiting and not msgs and not ownership.done():
                done, _ = await asyncio.wait([*waiting, ownership], timeout=wait + NETWORK_MARGIN_S,
                                             return_when=asyncio.FIRST_COMPLETED)
                if not done:
                    break
                for pull in [p for p in waiting if p.done()]:
                    del waiting[pull]
                    msgs += pull.result()
        finally:
            ownership.cancel()
            for pull in waiting:
                pull.cancel()
            # Wait for the losers to unwind: a cancelled pull puts back what it had taken, and
            # one that finished anyway hands its messages back here, so none is left unacked
            # until its ack wait runs out.
            outcomes = await asyncio.gather(*waiting, return_exceptions=True)
            for puller, outcome in zip(waiting.values(), outcomes, strict=True):
                if isinstance(outcome, list):
                    puller.give_back(outcome)
        return msgs

    async def _ensure_durable(self, name: str, subject: str, *, forbidden: str) -> None:
        js = self._log.js
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.consumer_info(self._ref.stream, forbidden)
            kind = "partitioned" if self._shared else "shared"
            raise Conflict(f"consumer group {self._group!r} is {kind}; join it the same way")
        try:
            info = await js.consumer_info(self._ref.stream, name)
        except nats.js.errors.NotFoundError:
            await js.add_consumer(self._ref.stream, api.ConsumerConfig(
                durable_name=name, filter_subject=subject, ack_policy=api.AckPolicy.EXPLICIT,
                deliver_policy=api.DeliverPolicy.ALL, ack_wait=self._ack_wait,
                max_ack_pending=self._max_in_flight))
            return
        config = info.config
        if config.ack_wait != self._ack_wait or config.max_ack_pending != self._max_in_flight:
            await js.add_consumer(self._ref.stream, config.evolve(
                ack_wait=self._ack_wait, max_ack_pending=self._max_in_flight))

    async def _drop_puller(self, partition: int) -> list[Msg]:
        puller = self._pullers.pop(partition, None)
        return [] if puller is None else await puller.stop()

    def _take(self, records: Sequence[Record]) -> list[Msg]:
        msgs = []
        for record in records:
            if record.topic != self._ref.topic:
                raise Invalid(f"record of topic {record.topic!r} acked on {self._ref.topic!r}")
            msg = self._in_flight.pop((record.partition, record.offset), None)
            if msg is not None:
                msgs.append(msg)
        return msgs

    def _check_open(self) -> None:
        if self._closed:
            raise Gone("this consumer has left its group")
