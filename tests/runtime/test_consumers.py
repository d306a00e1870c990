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


async def _dead_letters(*, services) -> list[Record]:
    try:
        partitions = await services.log.partitions("dlq.test-collector")
    except Exception:  # not created until the first dead letter
        return []
    return [r for p in range(partitions) for r in await services.log.read("dlq.test-collector", p, from_offset=0)]
