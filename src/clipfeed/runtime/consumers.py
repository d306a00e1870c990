"""Event processors: the unit of work of ``clipfeed worker <role>``.

A processor consumes one or more topics as a consumer group and handles records in batches.
Handlers must be idempotent (delivery is at least once). A record whose handling keeps
failing is retried with exponential backoff and, after ``max_deliveries``, moved to the
dead-letter topic ``dlq.<group>`` with the error, so one poison record never stops a stream.

A failure of an engine (``is_outage``: the database, the cache or the log unreachable, a full disk, a
breaker open, a connection dropped) says nothing about the records: the batch is handed back
with a delay and never dead-lettered, however long the outage lasts. Dead-lettering records
while a database restarts lost their effect for good (a drill found a comment counter one
short after a PostgreSQL restart).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import structlog
from prometheus_client import Counter, Histogram

from clipfeed.core.contract import Topic
from clipfeed.core.events import Event
from clipfeed.infra.log import Consumer, Record

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)

PROCESSED = Counter("clipfeed_processor_records_total", "Records handled by processors",
                    ["group", "topic", "outcome"])
BATCH_SECONDS = Histogram("clipfeed_processor_batch_seconds", "Time to handle one batch", ["group"],
                          buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120))
LAG_SECONDS = Histogram("clipfeed_processor_lag_seconds", "Age of records when handled", ["group"],
                        buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 60, 300))


@dataclass
class Processor:
    """Subclass and implement ``handle``. One instance per worker process."""

    group: ClassVar[str]
    topics: ClassVar[Sequence[str]]
    shared: ClassVar[bool] = False       # work queue (True) or partitioned (False)
    batch_size: ClassVar[int] = 500
    ack_wait: ClassVar[float] = 30.0
    max_deliveries: ClassVar[int] = 5
    # Long jobs: ``touch`` every record of the batch this often (seconds) while ``handle`` runs,
    # so a live worker keeps its lease however long the job takes and a dead one loses it
    # after ``ack_wait``. None: no heartbeat (short handlers).
    heartbeat: ClassVar[float | None] = None
    # True: a failed batch is retried at once record by record (``handle_one``) before the
    # backoff. False: it goes straight to the backoff (expensive jobs, batches of one).
    retry_at_once: ClassVar[bool] = True
    services: Services = field(repr=False)
    # Set when the worker is told to stop (SIGTERM): a batch that fails meanwhile is handed
    # back at once (``_release``), not backed off or dead-lettered, and handlers may check it
    # (the media job does not fail its clip then).
    stopping: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def __post_init__(self) -> None:
        """Override to set up per-process state."""

    async def handle(self, records: list[Record]) -> None:
        """Handle a batch. Raise to have the batch retried record by record."""
        raise NotImplementedError

    async def handle_one(self, record: Record) -> None:
        """Handle a single record (the retry path); by default a batch of one."""
        await self.handle([record])


class OneByOne(Processor):
    """A processor whose records are handled one at a time, in order (``handle_one``)."""

    async def handle(self, records: list[Record]) -> None:
        for record in records:
            await self.handle_one(record)

    async def handle_one(self, record: Record) -> None:
        raise NotImplementedError


class EventByEvent(OneByOne):
    """One event at a time (``handle_event``); a record that is not an event is skipped."""

    async def handle_one(self, record: Record) -> None:
        try:
            event = Event.decode(record.value)
        except ValueError:
            return
        await self.handle_event(event)

    async def handle_event(self, event: Event) -> None:
        raise NotImplementedError


async def run_processor(processor: Processor, stop: asyncio.Event) -> None:
    """Consume until ``stop`` is set; survives log outages by reconnecting."""
    processor.stopping = stop
    tasks = [asyncio.create_task(_run_topic(processor, topic, stop), name=f"{processor.group}:{topic}")
             for topic in processor.topics]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# How long an idle processor's fetch waits for a first record. A record that arrives ends the
# wait at once, and so does ``stop`` (``Consumer.wake``), so this only sets how often an idle
# consumer asks again: each asking costs a lease attempt (embedded) or a pull request per owned
# partition (JetStream). At 0.5 s an idle stream worker used 7 % of a core on JetStream.
FETCH_WAIT_S = 5.0


async def _run_topic(processor: Processor, topic: str, stop: asyncio.Event) -> None:
    event_log = processor.services.log
    while not stop.is_set():
        consumer: Consumer | None = None
        waker: asyncio.Task[None] | None = None
        try:
            consumer = await event_log.consumer(topic, processor.group, shared=processor.shared,
                                                ack_wait=processor.ack_wait)
            waker = asyncio.create_task(_wake_when_set(stop, consumer))
            while not stop.is_set():
                records = await consumer.fetch(processor.batch_size, timeout=FETCH_WAIT_S)
                if records and stop.is_set():
                    await _release(processor, consumer, records)  # fetched as the signal came
                elif records:
                    await _handle_batch(processor, consumer, records)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("processor.restart", group=processor.group, topic=topic, error=str(exc))
            await asyncio.sleep(1.0)
        finally:
            if waker is not None:
                waker.cancel()
            if consumer is not None:
                with contextlib.suppress(Exception):
                    await consumer.close()


async def _wake_when_set(stop: asyncio.Event, consumer: Consumer) -> None:
    await stop.wait()
    consumer.wake()


async def _handle_batch(processor: Processor, consumer: Consumer, records: list[Record]) -> None:
    group = processor.group
    started = time.perf_counter()
    now = time.time()
    for record in records:
        LAG_SECONDS.labels(group).observe(max(0.0, now - record.timestamp.timestamp()))
    beating = (asyncio.create_task(_heartbeat(consumer, records, processor.heartbeat))
               if processor.heartbeat else None)
    try:
        await processor.handle(records)
        await consumer.ack_many(records)
        PROCESSED.labels(group, records[0].topic, "ok").inc(len(records))
    except Exception as batch_error:
        if processor.stopping.is_set():
            # Stopping: the likeliest cause is the stop itself (a supervisor's SIGTERM reaches
            # FFmpeg too), not the record; hand it back undelayed rather than back off or
            # dead-letter it. (A batch cancelled past the grace is handed back by the
            # consumer's ``close``, which both adapters do at once, not after ``ack_wait``.)
            await _release(processor, consumer, records)
            return
        if is_outage(batch_error):
            await _wait_out_outage(processor, consumer, records, batch_error)
            return
        log.warning("processor.batch_failed", group=group, error=str(batch_error), size=len(records))
        for record in records:
            if processor.retry_at_once:
                await _retry_one(processor, consumer, record)
            else:
                await _give_up_or_backoff(processor, consumer, record,
                                          f"{type(batch_error).__name__}: {batch_error}")
    finally:
        if beating is not None:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
    BATCH_SECONDS.labels(group).observe(time.perf_counter() - started)


async def _release(processor: Processor, consumer: Consumer, records: list[Record]) -> None:
    """Give records back for immediate redelivery (a stopping worker's, not a failure). The
    redelivery counts toward ``max_deliveries`` like any other. Killed before the hand-back
    lands, the records' lease runs out instead and they are redelivered after ``ack_wait``."""
    for record in records:
        try:
            await consumer.nack(record, delay=0.0)
        except Exception as exc:  # the lease runs out instead: redelivered after ack_wait
            log.warning("processor.release_failed", group=processor.group, topic=record.topic, error=str(exc))
            continue
        PROCESSED.labels(processor.group, record.topic, "released").inc()
    log.info("processor.released", group=processor.group, size=len(records))


async def _heartbeat(consumer: Consumer, records: list[Record], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        for record in records:
            try:
                await consumer.touch(record)
            except Exception as exc:  # a missed beat only risks a redelivery
                log.warning("processor.heartbeat_failed", topic=record.topic, error=str(exc))


async def _retry_one(processor: Processor, consumer: Consumer, record: Record) -> None:
    group = processor.group
    try:
        await processor.handle_one(record)
        await consumer.ack(record)
        PROCESSED.labels(group, record.topic, "ok").inc()
        return
    except Exception as exc:
        if is_outage(exc):
            await _wait_out_outage(processor, consumer, [record], exc)
            return
        error = f"{type(exc).__name__}: {exc}"
    await _give_up_or_backoff(processor, consumer, record, error)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is an engine being unreachable rather than a record
    that cannot be handled."""
    from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from clipfeed.core.errors import Unavailable, is_storage_full

    if is_storage_full(exc):  # a full disk is the machine's state, not the record's fault
        return True
    # Not the builtin TimeoutError: FFmpeg and chunk waits raise it for work that took too long,
    # which is about the record. A pool timeout or a refused or dropped connection is not.
    kinds = (Unavailable, OperationalError, InterfaceError, DisconnectionError, PoolTimeout, ConnectionError)
    seen: BaseException | None = exc
    for _ in range(5):  # the error, and the errors it was explicitly raised from
        if seen is None:
            return False
        if isinstance(seen, kinds):
            return True
        seen = seen.__cause__
    return False


async def _wait_out_outage(processor: Processor, consumer: Consumer, records: list[Record],
                           error: BaseException) -> None:
    """Hand the records back with a delay that grows with their deliveries (0.5 s, doubling,
    up to 30 s), never to the dead letters: they were not at fault."""
    delay = min(30.0, 0.5 * 2.0 ** min(6, max(0, records[0].delivery_count - 1)))
    log.warning("processor.outage", group=processor.group, size=len(records), delay=delay,
                error=f"{type(error).__name__}: {error}"[:300])
    for record in records:
        try:
            await consumer.nack(record, delay=delay)
        except Exception as exc:  # the log itself is down: the lease runs out instead
            log.warning("processor.release_failed", group=processor.group, topic=record.topic, error=str(exc))
            continue
        PROCESSED.labels(processor.group, record.topic, "outage").inc()


async def _give_up_or_backoff(processor: Processor, consumer: Consumer, record: Record, error: str) -> None:
    group = processor.group
    if record.delivery_count >= processor.max_deliveries:
        await processor.services.log.append(
            Topic.dead_letters(group), record.value, key=record.key,
            headers={**record.headers, "error": error[:500], "source_topic": record.topic,
                     "source_partition": str(record.partition), "source_offset": str(record.offset)})
        await consumer.ack(record)
        PROCESSED.labels(group, record.topic, "dead_lettered").inc()
        log.error("processor.dead_lettered", group=group, topic=record.topic, offset=record.offset, error=error)
    else:
        delay = min(60.0, 0.5 * 2 ** (record.delivery_count - 1))
        await consumer.nack(record, delay=delay)
        PROCESSED.labels(group, record.topic, "retried").inc()
        log.warning("processor.retry", group=group, topic=record.topic, offset=record.offset,
                    delay=delay, error=error)
