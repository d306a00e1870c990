"""How the JetStream adapter pulls: what the shared contract cannot see but the stream's lag
does (issue 8). A ``no_wait`` pull of an empty partition must answer at once, and a pull
cancelled half-way must hand what it already took to the next pull instead of leaving it
unacknowledged until the group's ack wait sends it again.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from clipfeed.infra.log import OutgoingRecord, TopicSpec, open_event_log, partition_for
from clipfeed.infra.log.jetstream.layout import partition_consumer
from clipfeed.infra.log.jetstream.log import JetStreamEventLog
from clipfeed.infra.log.jetstream.pull import Puller
from tests.services import drop_jetstream_streams


@pytest.fixture
async def jetstream(nats_url: str) -> AsyncIterator[JetStreamEventLog]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    event_log = await open_event_log(f"{nats_url}?prefix={prefix}")
    assert isinstance(event_log, JetStreamEventLog)
    yield event_log
    await event_log.close()
    await drop_jetstream_streams(nats_url, prefix=prefix)


def key_for(partition: int, partitions: int) -> bytes:
    return next(key for i in range(1000) if partition_for(key := f"key-{i}".encode(), partitions, 0) == partition)


@pytest.mark.alone
async def test_a_fetch_answers_at_once_when_most_owned_partitions_are_empty(jetstream: JetStreamEventLog) -> None:
    await jetstream.ensure_topic(TopicSpec("sparse", partitions=8))
    member = await jetstream.consumer("sparse", "counters", shared=False, ack_wait=10)
    assert await member.assigned_partitions() == list(range(8))
    await jetstream.append_batch("sparse", [OutgoingRecord(f"v{i}".encode(), key=key_for(5, 8)) for i in range(3)])
    for _ in range(3):  # each fetch asks all eight partitions, seven of them empty
        started = time.monotonic()
        records = await member.fetch(100, timeout=5)
        took = time.monotonic() - started
        await member.ack_many(records)
        # A no_wait pull carrying an expiry waited that long (0.2 s) on each empty partition.
        assert took < 0.5, f"fetch took {took:.2f} s"
        await jetstream.append("sparse", b"more", key=key_for(5, 8))
    assert [r.value for r in records] == [b"more"]


async def test_a_pull_cancelled_half_way_hands_what_it_took_to_the_next_pull(
        jetstream: JetStreamEventLog) -> None:
    await jetstream.ensure_topic(TopicSpec("jobs", partitions=1))
    member = await jetstream.consumer("jobs", "workers", shared=False, ack_wait=30)
    await member.close()  # leaves the durable consumer of partition 0 behind, with nobody pulling
    await jetstream.append_batch("jobs", [OutgoingRecord(f"job-{i}".encode(), key=b"k") for i in range(3)])
    ref = await jetstream.stream("jobs")
    puller = Puller(jetstream.nc, ref.stream, partition_consumer("workers", 0))
    await puller.start()
    try:
        first = await puller.pull(1, wait=0)
        assert [m.data for m in first] == [b"job-0"]
        puller.give_back(first)  # taken, then not used: first in line again
        pulling = asyncio.ensure_future(puller.pull(10, wait=2))
        await asyncio.sleep(0)  # it took job-0 and asked the server for the rest ...
        pulling.cancel()  # ... when its fetch was called off
        with pytest.raises(asyncio.CancelledError):
            await pulling
        got = []
        deadline = time.monotonic() + 3  # far below the ack wait: nothing may wait for a redelivery
        while len(got) < 3 and time.monotonic() < deadline:
            got += await puller.pull(10, wait=0.5)
        assert [m.data for m in got] == [b"job-0", b"job-1", b"job-2"]
        assert all(m.metadata.num_delivered == 1 for m in got)
    finally:
        for msg in await puller.stop():
            await msg.nak()
