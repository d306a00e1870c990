"""One contract for every event log adapter: the embedded SQLite log and NATS JetStream.

Each JetStream test gets its own stream prefix, and each embedded test its own directory, so
tests never see each other's topics. Times are kept short (ack_wait under a second) so the
whole suite runs in seconds.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from clipfeed.core.errors import Invalid, NotFound
from clipfeed.infra.log import Consumer, EventLog, OutgoingRecord, Record, TopicSpec, open_event_log, partition_for
from tests.services import drop_jetstream_streams

OpenLog = Callable[[], Awaitable[EventLog]]


@pytest.fixture(params=["embedded", "jetstream"])
async def open_log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenLog]:
    """Opens another handle on the same log, as another process would; all closed afterwards."""
    if request.param == "embedded":
        url = f"embedded://{tmp_path / 'log'}"
    else:
        nats_url = request.getfixturevalue("nats_url")
        prefix = f"t{uuid.uuid4().hex[:10]}"
        url = f"{nats_url}?prefix={prefix}"
    handles: list[EventLog] = []

    async def opener() -> EventLog:
        handles.append(await open_event_log(url))
        return handles[-1]

    yield opener
    for handle in handles:
        await handle.close()
    if request.param == "jetstream":
        await drop_jetstream_streams(url.split("?")[0], prefix=prefix)


@pytest.fixture
async def event_log(open_log: OpenLog) -> EventLog:
    return await open_log()


async def drain(consumer: Consumer, want: int, *, timeout: float = 5.0, ack: bool = True) -> list[Record]:
    """Fetch until ``want`` records arrived or ``timeout`` passed."""
    got: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        batch = await consumer.fetch(want - len(got), timeout=min(0.5, deadline - time.monotonic()))
        if ack and batch:
            await consumer.ack_many(batch)
        got += batch
    return got


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def append_values(event_log: EventLog, topic: str, count: int, key: bytes | None = b"k") -> None:
    await event_log.append_batch(topic, [OutgoingRecord(f"v{i}".encode(), key=key) for i in range(count)])


# -- appends and partitions ------------------------------------------------------------------

async def test_records_with_one_key_stay_in_order_in_the_partition_partition_for_picks(
        event_log: EventLog) -> None:
    await event_log.ensure_topic(TopicSpec("orders", partitions=4))
    positions = {}
    for i in range(12):
        key = b"alice" if i % 2 else b"bob"
        pos = await event_log.append("orders", f"{key.decode()}-{i}".encode(), key=key, headers={"n": str(i)})
        assert pos.partition == partition_for(key, 4, 0)
        positions.setdefault(key, []).append(pos.offset)
    for key, offsets in positions.items():
        assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
        records = await event_log.read("orders", partition_for(key, 4, 0))
        mine = [r for r in records if r.key == key]
        assert [r.offset for r in mine] == offsets
        assert [int(r.headers["n"]) for r in mine] == sorted(int(r.headers["n"]) for r in mine)


async def test_batch_positions_match_their_records_and_read_back(event_log: EventLog) -> None:
    await event_log.ensure_topic(TopicSpec("batches", partitions=3))
    records = [OutgoingRecord(f"v{i}".encode(), key=f"user-{i % 5}".encode()) for i in range(30)]
    positions = await event_log.append_batch("batches", records)
    assert [p.partition for p in positions] == [partition_for(r.key, 3, 0) for r in records]
    ends = await event_log.end_offsets("batches")
    for record, pos in zip(records, positions, strict=True):
        (stored,) = await event_log.read("batches", pos.partition, from_offset=pos.offset, limit=1)
        assert (stored.offset, stored.value, stored.key) == (pos.offset, record.value, record.key)
        assert ends[pos.partition] > pos.offset


async def test_records_without_a_key_spread_over_all_partitions(event_log: EventLog) -> None:
    await event_log.ensure_topic(TopicSpec("spread", partitions=4))
    positions = [await event_log.append("spread", b"x") for _ in range(8)]
    assert {p.partition for p in positions} == {0, 1, 2, 3}
    assert await event_log.partitions("spread") == 4


async def test_unknown_topics_are_created_on_append_and_bad_names_refused(event_log: EventLog) -> None:
    await event_log.append("fresh.topic", b"x")
    assert await event_log.partitions("fresh.topic") == TopicSpec("x").partitions
    with pytest.raises(Invalid):
        await event_log.append("bad topic!", b"x")
    with pytest.raises(NotFound):
        await event_log.read("never.written", 0)


# -- consumer groups -------------------------------------------------------------------------

async def test_group_resumes_from_its_committed_offset_after_reopening(open_log: OpenLog) -> None:
    first = await open_log()
    await first.ensure_topic(TopicSpec("resume", partitions=2))
    await append_values(first, "resume", 5)
    member = await first.consumer("resume", "indexer", ack_wait=5)
    records = await drain(member, 5, ack=False)
    assert [r.value for r in records] == [b"v0", b"v1", b"v2", b"v3", b"v4"]
    await member.ack(records[0])
    await member.ack(records[1])
    await member.ack(records[3])  # acked above the gap at records[2]
    await member.close()
    partition = records[0].partition
    assert (await first.committed("resume", "indexer"))[partition] == records[2].offset

    second = await open_log()
    again = await second.consumer("resume", "indexer", ack_wait=5)
    replayed = await drain(again, 2)
    assert sorted(r.value for r in replayed) == [b"v2", b"v4"]
    assert await again.fetch(10, timeout=0.3) == []
    assert (await second.committed("resume", "indexer"))[partition] > records[4].offset


async def test_waiting_fetch_wakes_soon_after_another_process_appends(open_log: OpenLog) -> None:
    reader, writer = await open_log(), await open_log()
    await reader.ensure_topic(TopicSpec("wake", partitions=2))
    member = await reader.consumer("wake", "watchers", ack_wait=5)
    waiting = asyncio.ensure_future(member.fetch(10, timeout=5))
    await asyncio.sleep(0.3)
    await writer.append("wake", b"ping")
    appended = time.monotonic()
    (record,) = await waiting
    assert record.value == b"ping" and time.monotonic() - appended < 0.5


@pytest.mark.parametrize("shared", [True, False])
async def test_wake_ends_a_waiting_fetch_and_loses_nothing(event_log: EventLog, shared: bool) -> None:
    """What a processor told to stop does: its long fetch returns now, not after its timeout,
    and what is appended meanwhile is the next fetch's (or another member's)."""
    await event_log.ensure_topic(TopicSpec("woken", partitions=2))
    member = await event_log.consumer("woken", "sleepers", shared=shared, ack_wait=5)
    waiting = asyncio.ensure_future(member.fetch(10, timeout=60))
    await asyncio.sleep(0.3)
    member.wake()
    assert await asyncio.wait_for(waiting, timeout=10) == []  # not the 60 s it was given
    await append_values(event_log, "woken", 3)
    records = await member.fetch(10, timeout=5)
    while len(records) < 3:
        more = await member.fetch(10, timeout=5)
        assert more, "a record appended after the wake never came"
        records += more
    assert sorted(record.value for record in records) == [b"v0", b"v1", b"v2"]
    member.wake()  # before a fetch: the next one does not wait either
    assert await asyncio.wait_for(member.fetch(10, timeout=60), timeout=10) == []


async def test_unacked_record_is_redelivered_after_ack_wait(event_log: EventLog) -> None:
    await append_values(event_log, "redeliver", 1)
    member = await event_log.consumer("redeliver", "workers", ack_wait=0.6)
    (record,) = await member.fetch(10, timeout=2)
    assert record.delivery_count == 1
    assert await member.fetch(10, timeout=0.2) == []
    (again,) = await member.fetch(10, timeout=3)
    assert (again.offset, again.value, again.delivery_count) == (record.offset, b"v0", 2)
    await member.ack(again)
    assert await member.fetch(10, timeout=1.0) == []


async def test_nacked_record_comes_back_after_its_delay(event_log: EventLog) -> None:
    await append_values(event_log, "nacks", 1)
    member = await event_log.consumer("nacks", "workers", ack_wait=10)
    (record,) = await member.fetch(1, timeout=2)
    started = time.monotonic()
    await member.nack(record, delay=0.6)
    assert await member.fetch(1, timeout=0.2) == []
    (again,) = await member.fetch(1, timeout=3)
    assert time.monotonic() - started >= 0.5
    assert (again.offset, again.delivery_count) == (record.offset, 2)


async def test_touch_extends_the_lease(event_log: EventLog) -> None:
    await append_values(event_log, "touches", 1)
    worker = await event_log.consumer("touches", "transcode", ack_wait=0.8)
    other = await event_log.consumer("touches", "transcode", ack_wait=0.8)
    (record,) = await worker.fetch(1, timeout=2)
    for _ in range(4):  # 1.6 s of work, twice ack_wait
        await asyncio.sleep(0.4)
        await worker.touch(record)
        assert await other.fetch(1, timeout=0.01) == []
    (again,) = await other.fetch(1, timeout=3)  # no more touches: the lease lapses
    assert again.offset == record.offset and again.delivery_count == 2


async def test_shared_group_members_split_records_without_losing_any(event_log: EventLog) -> None:
    await event_log.ensure_topic(TopicSpec("jobs", partitions=3))
    await event_log.append_batch("jobs", [OutgoingRecord(f"job-{i}".encode(), key=str(i).encode())
                                          for i in range(120)])
    members = [await event_log.consumer("jobs", "media", ack_wait=10) for _ in range(2)]
    seen: list[list[bytes]] = [[], []]

    async def work(index: int) -> None:
        while True:
            batch = await members[index].fetch(7, timeout=0.5)
            if not batch:
                return
            seen[index] += [r.value for r in batch]
            await asyncio.sleep(0.01)  # some work, so the other member gets a turn
            await members[index].ack_many(batch)

    await asyncio.gather(work(0), work(1))
    everything = seen[0] + seen[1]
    assert sorted(everything) == sorted(f"job-{i}".encode() for i in range(120))
    assert seen[0] and seen[1]


async def test_partitioned_members_split_partitions_and_take_over_a_dead_members_share(
        open_log: OpenLog) -> None:
    process_a, process_b = await open_log(), await open_log()
    await process_a.ensure_topic(TopicSpec("views", partitions=4))
    await process_a.append_batch("views", [OutgoingRecord(f"view-{i}".encode(), key=f"clip-{i}".encode())
                                           for i in range(40)])
    a = await process_a.consumer("views", "counters", shared=False, ack_wait=1.0, member_id="member-a")
    b = await process_b.consumer("views", "counters", shared=False, ack_wait=1.0, member_id="member-b")

    async def split() -> bool:
        mine, theirs = await a.assigned_partitions(), await b.assigned_partitions()
        return bool(mine and theirs) and sorted(mine + theirs) == [0, 1, 2, 3]

    await eventually(split)
    owned_by_a = await a.assigned_partitions()
    from_a = await a.fetch(100, timeout=2)
    assert from_a and {r.partition for r in from_a} <= set(owned_by_a)
    acked_by_a = from_a[: len(from_a) // 2]
    await a.ack_many(acked_by_a)
    await cast(Any, a).stop_heartbeat()  # member a hangs: no close, no more heartbeats

    from_b = await drain(b, 40 - len(acked_by_a), timeout=8)
    assert {r.value for r in acked_by_a}.isdisjoint(r.value for r in from_b)
    assert sorted(r.value for r in from_b + acked_by_a) == sorted(f"view-{i}".encode() for i in range(40))
    redelivered = [r for r in from_b if r.value in {x.value for x in from_a[len(acked_by_a):]}]
    assert redelivered and all(r.delivery_count >= 2 for r in redelivered)
    assert await b.assigned_partitions() == [0, 1, 2, 3]


async def test_committed_offsets_of_an_unknown_group_are_not_found(event_log: EventLog) -> None:
    await append_values(event_log, "lonely", 1)
    with pytest.raises(NotFound):
        await event_log.committed("lonely", "nobody")


# -- retention and replay --------------------------------------------------------------------

async def test_retention_drops_records_older_than_max_age(event_log: EventLog) -> None:
    await event_log.ensure_topic(TopicSpec("short", partitions=1, max_age=timedelta(seconds=1)))
    await append_values(event_log, "short", 3)
    await asyncio.sleep(1.2)
    await event_log.append("short", b"new", key=b"k")

    async def only_new_left() -> bool:
        await event_log.enforce_retention()
        return [r.value for r in await event_log.read("short", 0)] == [b"new"]

    await eventually(only_new_left)


async def test_retention_keeps_a_topic_within_max_bytes(event_log: EventLog) -> None:
    await event_log.ensure_topic(TopicSpec("capped", partitions=2, max_age=None, max_bytes=4096))
    for i in range(40):
        await event_log.append("capped", f"{i:03d}".encode() + b"." * 397, key=str(i).encode())

    async def within_budget() -> bool:
        await event_log.enforce_retention()
        kept = [r for p in range(2) for r in await event_log.read("capped", p)]
        return sum(len(r.value) for r in kept) <= 4096

    await eventually(within_budget)
    kept = sorted([int(r.value[:3]) for p in range(2) for r in await event_log.read("capped", p)])
    assert 39 in kept and 0 not in kept


async def test_read_from_a_time_returns_records_appended_since(event_log: EventLog) -> None:
    await append_values(event_log, "timeline", 3)
    await asyncio.sleep(0.2)
    since = datetime.now(UTC)
    await asyncio.sleep(0.2)
    later = [await event_log.append("timeline", v, key=b"k") for v in (b"late-1", b"late-2")]
    records = await event_log.read("timeline", later[0].partition, from_time=since)
    assert [r.value for r in records] == [b"late-1", b"late-2"]
    assert all(r.timestamp >= since for r in records)
    tail = await event_log.read("timeline", later[0].partition, from_offset=later[1].offset)
    assert [r.value for r in tail] == [b"late-2"]


async def test_seek_group_replays_from_an_offset_and_from_a_time(event_log: EventLog) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    await append_values(event_log, "replay", 5)
    member = await event_log.consumer("replay", "rebuild", shared=False, ack_wait=5)
    records = await drain(member, 5)
    assert len(records) == 5
    await member.close()
    partition = records[0].partition

    await event_log.seek_group("replay", "rebuild", to_offset={partition: records[2].offset})
    assert (await event_log.committed("replay", "rebuild"))[partition] == records[2].offset
    member = await event_log.consumer("replay", "rebuild", shared=False, ack_wait=5)
    assert [r.value for r in await drain(member, 3)] == [b"v2", b"v3", b"v4"]
    await member.close()

    await event_log.seek_group("replay", "rebuild", to_time=before)
    member = await event_log.consumer("replay", "rebuild", shared=False, ack_wait=5)
    assert [r.value for r in await drain(member, 5)] == [b"v0", b"v1", b"v2", b"v3", b"v4"]


# -- failures --------------------------------------------------------------------------------

async def test_unreachable_nats_fails_fast_with_unavailable() -> None:
    from clipfeed.core.errors import Unavailable
    from tests.services import free_port

    started = time.monotonic()
    with pytest.raises(Unavailable):
        await open_event_log(f"nats://127.0.0.1:{free_port()}")
    assert time.monotonic() - started < 5


async def test_tail_delivers_new_records_from_every_handle_and_nothing_older(open_log: OpenLog) -> None:
    watcher, other_process = await open_log(), await open_log()
    await watcher.ensure_topic(TopicSpec("live", partitions=3))
    await watcher.append("live", b"before", key=b"a")
    received: list[bytes] = []

    records = await watcher.tail("live")

    async def collect() -> None:
        async for record in records:
            received.append(record.value)
            if len(received) == 4:
                return

    task = asyncio.ensure_future(collect())
    appended = time.monotonic()
    await watcher.append("live", b"mine", key=b"a")
    for n in range(3):
        await other_process.append("live", f"theirs-{n}".encode(), key=f"k{n}".encode())
    await asyncio.wait_for(task, 5)
    assert sorted(received) == [b"mine", b"theirs-0", b"theirs-1", b"theirs-2"]
    assert time.monotonic() - appended < 1.0
