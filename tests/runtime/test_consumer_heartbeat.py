"""Long jobs keep their lease with the processor heartbeat; without it they are redelivered."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

from clipfeed.infra.log import Record, TopicSpec
from clipfeed.runtime.consumers import Processor, run_processor


class SlowJobs(Processor):
    group: ClassVar[str] = "test-slow"
    topics: ClassVar[list[str]] = ["test.slow"]
    shared: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1
    ack_wait: ClassVar[float] = 1.0
    heartbeat: ClassVar[float | None] = 0.3
    retry_at_once: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.started: list[tuple[bytes, int]] = []

    async def handle(self, records: list[Record]) -> None:
        for record in records:
            self.started.append((record.value, record.delivery_count))
            await asyncio.sleep(3.0)  # three leases long


class SlowJobsWithoutHeartbeat(SlowJobs):
    heartbeat: ClassVar[float | None] = None


@pytest.mark.parametrize("kind", [SlowJobs, SlowJobsWithoutHeartbeat])
async def test_a_job_longer_than_its_lease_is_delivered_once_only_with_a_heartbeat(kind, *, services) -> None:
    await services.log.ensure_topic(TopicSpec("test.slow", partitions=1))
    workers = [kind(services), kind(services)]  # two members share the queue
    stop = asyncio.Event()
    runners = [asyncio.create_task(run_processor(w, stop)) for w in workers]
    await services.log.append("test.slow", b"job", key=b"k")
    await asyncio.sleep(4.5)
    stop.set()
    await asyncio.gather(*runners)
    starts = [s for w in workers for s in w.started]
    if kind is SlowJobs:
        assert starts == [(b"job", 1)]
    else:
        assert len(starts) >= 2  # the lease ran out under a live worker
