"""Processors: batches are acked once handled, failures retried, poison records dead-lettered
without stopping the stream."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from clipfeed.infra.log import Record, TopicSpec
from clipfeed.runtime.consumers import Processor, run_processor


class Collector(Processor):
    group: ClassVar[str] = "test-collector"
    topics: ClassVar[list[str]] = ["test.work"]
    max_deliveries: ClassVar[int] = 2
    ack_wait: ClassVar[float] = 2.0

    def __post_init__(self) -> None:
        self.seen: list[bytes] = []
        self.attempts: dict[bytes, int] = {}

    async def handle(self, records: list[Record]) -> None:
        for record in records:
            self.attempts[record.value] = self.attempts.get(record.value, 0) + 1
            if record.value == b"poison":
                raise ValueError("cannot parse this one")
            if record.value == b"flaky" and self.attempts[record.value] < 2:
                raise ConnectionError("try again")
        self.seen += [r.value for r in records if r.value not in self.seen]


async def test_poison_record_goes_to_the_dead_letter_topic_and_the_rest_flows(*, services) -> None:
    await services.log.ensure_topic(TopicSpec("test.work", partitions=1))
    processor = Collector(services)
    stop = asyncio.Event()
    runner = asyncio.create_task(run_processor(processor, stop))
    for value in (b"a", b"poison", b"flaky", b"b"):
        await services.log.append("test.work", value, key=b"k")
    for _ in range(300):
        if {b"a", b"b", b"flaky"} <= set(processor.seen) and await _dead_letters(services=services):
            break
        await asyncio.sleep(0.1)
    stop.set()
    await runner
    assert {b"a", b"b", b"flaky"} <= set(processor.seen)
    assert b"poison" not in processor.seen
    dead = await _dead_letters(services=services)
    assert [r.value for r in dead] == [b"poison"]
    assert "cannot parse" in dead[0].headers["error"] and dead[0].headers["source_topic"] == "test.work"


async def _dead_letters(*, services, group: str = "test-collector") -> list[Record]:
    try:
        partitions = await services.log.partitions(f"dlq.{group}")
    except Exception:  # not created until the first dead letter
        return []
    return [r for p in range(partitions) for r in await services.log.read(f"dlq.{group}", p, from_offset=0)]


class Encoder(Processor):
    """A long job on a work queue; ``interrupted`` ones fail once their worker is told to stop,
    as an encoder killed by the same SIGTERM does."""

    group: ClassVar[str] = "test-encoder"
    topics: ClassVar[list[str]] = ["test.jobs"]
    shared: ClassVar[bool] = True
    max_deliveries: ClassVar[int] = 1  # a real failure now would dead-letter the job
    ack_wait: ClassVar[float] = 600.0  # far past the test: only a hand-back frees the job
    retry_at_once: ClassVar[bool] = False
    batch_size: ClassVar[int] = 1

    def __post_init__(self) -> None:
        self.interrupted = False
        self.started = asyncio.Event()
        self.finished: list[bytes] = []

    async def handle(self, records: list[Record]) -> None:
        self.started.set()
        if self.interrupted:
            await self.stopping.wait()
            raise RuntimeError("encoder killed")
        self.finished += [r.value for r in records]


async def test_a_job_failing_as_its_worker_stops_is_handed_back_to_another_not_dead_lettered(*, services) -> None:
    await services.log.ensure_topic(TopicSpec("test.jobs", partitions=1))
    first, second = Encoder(services), Encoder(services)
    first.interrupted = True
    stop_first, stop_second = asyncio.Event(), asyncio.Event()
    running_first = asyncio.create_task(run_processor(first, stop_first))
    await services.log.append("test.jobs", b"clip", key=b"k")
    await asyncio.wait_for(first.started.wait(), 30)
    stop_first.set()
    await asyncio.wait_for(running_first, 30)
    running_second = asyncio.create_task(run_processor(second, stop_second))
    try:
        for _ in range(300):
            if second.finished:
                break
            await asyncio.sleep(0.1)
    finally:
        stop_second.set()
        await running_second
    assert second.finished == [b"clip"]
    assert await _dead_letters(services=services, group="test-encoder") == []


class DuringOutage(Processor):
    """Its engine is down for the first four tries (as a database restarting would be): more
    than ``max_deliveries`` allows a failing record."""

    group: ClassVar[str] = "test-outage"
    topics: ClassVar[list[str]] = ["test.outage"]
    max_deliveries: ClassVar[int] = 2  # a poison record would be dead-lettered on its second try
    ack_wait: ClassVar[float] = 30.0

    def __post_init__(self) -> None:
        self.tries = 0
        self.seen: list[bytes] = []

    async def handle(self, records: list[Record]) -> None:
        from clipfeed.core.errors import Unavailable

        self.tries += 1
        if self.tries <= 4:
            raise Unavailable("database unreachable: connection refused")
        self.seen += [r.value for r in records]


async def test_records_failing_because_an_engine_is_down_wait_for_it_and_are_never_dead_lettered(
        *, services) -> None:
    await services.log.ensure_topic(TopicSpec("test.outage", partitions=1))
    processor = DuringOutage(services)
    stop = asyncio.Event()
    runner = asyncio.create_task(run_processor(processor, stop))
    await services.log.append("test.outage", b"comment created", key=b"k")
    for _ in range(300):
        if processor.seen:
            break
        await asyncio.sleep(0.1)
    stop.set()
    await runner
    assert processor.seen == [b"comment created"] and processor.tries >= 5
    assert await _dead_letters(services=services, group="test-outage") == []
