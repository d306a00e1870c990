"""Event log and ID generation throughput, against baselines measured in the same run.

    .venv/bin/python bench/eventlog.py [--nats nats://127.0.0.1:4222] [--scale 1.0]

* append, single: 64 coroutines each awaiting one ``append`` at a time (every ack durable);
* append, batched: one producer awaiting ``append_batch`` of 1000 records;
* consume: one member doing ``fetch(1000)`` + ``ack_many`` until the topic is drained;
* baseline: plain SQLite ``executemany`` of the same rows into a two-column table, 1000 rows
  per transaction, WAL with synchronous=FULL, in the same temporary directory (and, for scale,
  the same insert committed row by row);
* IDs: ``IdGenerator.next_id`` and ``next_ids(1000)`` against ``itertools.count`` and
  ``time.time_ns()`` calls.

Records are 100-byte values with an 8-byte key, spread over 8 partitions.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from clipfeed.core.ids import IdGenerator
from clipfeed.infra.log import EventLog, OutgoingRecord, TopicSpec, open_event_log

VALUE = b"v" * 100
BATCH = 1000
WRITERS = 64


def rows(count: int) -> list[OutgoingRecord]:
    return [OutgoingRecord(VALUE, key=f"{i:08d}".encode()) for i in range(count)]


def sqlite_baseline(directory: Path, count: int) -> float:
    conn = sqlite3.connect(directory / "baseline.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE plain (k BLOB, v BLOB)")
    data = [(r.key, r.value) for r in rows(count)]
    started = time.perf_counter()
    for i in range(0, count, BATCH):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO plain VALUES (?, ?)", data[i:i + BATCH])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


def sqlite_commit_per_row(directory: Path, count: int) -> float:
    """What durability per record costs without group commit: one fsync per row."""
    conn = sqlite3.connect(directory / "per-row.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE plain (k BLOB, v BLOB)")
    started = time.perf_counter()
    for r in rows(count):
        conn.execute("INSERT INTO plain VALUES (?, ?)", (r.key, r.value))
    elapsed = time.perf_counter() - started
    conn.close()
    return count / elapsed


async def append_single(event_log: EventLog, topic: str, count: int) -> float:
    per_writer = count // WRITERS

    async def writer(n: int) -> None:
        for _ in range(per_writer):
            await event_log.append(topic, VALUE, key=f"{n:08d}".encode())

    started = time.perf_counter()
    await asyncio.gather(*(writer(n) for n in range(WRITERS)))
    return per_writer * WRITERS / (time.perf_counter() - started)


async def append_batched(event_log: EventLog, topic: str, count: int) -> float:
    data = rows(count)
    started = time.perf_counter()
    for i in range(0, count, BATCH):
        await event_log.append_batch(topic, data[i:i + BATCH])
    return count / (time.perf_counter() - started)


async def consume(event_log: EventLog, topic: str, count: int) -> float:
    member = await event_log.consumer(topic, "bench", ack_wait=60, max_in_flight=10 * BATCH)
    done = 0
    started = time.perf_counter()
    while done < count:
        batch = await member.fetch(BATCH, timeout=2.0)
        if not batch:
            raise RuntimeError(f"consumer stalled after {done} of {count} records")
        await member.ack_many(batch)
        done += len(batch)
    elapsed = time.perf_counter() - started
    await member.close()
    return done / elapsed


async def measure_log(url: str, scale: float) -> dict[str, float]:
    event_log = await open_event_log(url)
    try:
        batched, single = int(200_000 * scale), int(32_000 * scale)
        await event_log.ensure_topic(TopicSpec("bench.batched", partitions=8))
        await event_log.ensure_topic(TopicSpec("bench.single", partitions=8))
        return {
            "append, single (64 concurrent)": await append_single(event_log, "bench.single", single),
            "append_batch of 1000": await append_batched(event_log, "bench.batched", batched),
            "consume (fetch 1000 + ack_many)": await consume(event_log, "bench.batched", batched),
        }
    finally:
        await event_log.close()


async def drop_prefix(nats_url: str, prefix: str) -> None:
    import nats

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for info in await js.streams_info():
        if (info.config.name or "").startswith(f"{prefix}_") or info.config.name == f"KV_{prefix}_groups":
            await js.delete_stream(info.config.name)
    await nc.close()


def per_second(call: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        call()
    return count / (time.perf_counter() - started)


def measure_ids() -> dict[str, float]:
    ids = IdGenerator(1)
    count = itertools.count()
    bulk_started = time.perf_counter()
    for _ in range(1000):
        ids.next_ids(1000)
    bulk = 1_000_000 / (time.perf_counter() - bulk_started)
    return {
        "IdGenerator.next_id": per_second(ids.next_id, 1_000_000),
        "IdGenerator.next_ids(1000)": bulk,
        "baseline: next(itertools.count())": per_second(lambda: next(count), 1_000_000),
        "baseline: time.time_ns()": per_second(time.time_ns, 1_000_000),
    }


def show(title: str, figures: dict[str, float], baseline: float | None = None) -> None:
    print(f"\n{title}")
    for name, value in figures.items():
        ratio = "" if baseline is None else f"  ({value / baseline:.2f}x raw SQLite)"
        print(f"  {name:<36} {value:>14,.0f} /s{ratio}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the record counts")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="clipfeed-bench-"))
    try:
        baseline = sqlite_baseline(directory, int(200_000 * args.scale))
        show("raw SQLite, same rows, same disk (baseline)",
             {"executemany, 1000 rows per commit": baseline,
              "one row per commit (no group commit)": sqlite_commit_per_row(directory, 3000)})
        show("embedded (embedded://, SQLite WAL, synchronous=FULL)",
             await measure_log(f"embedded://{directory / 'log'}", args.scale), baseline)
        prefix = f"bench{uuid.uuid4().hex[:8]}"
        try:
            show(f"JetStream ({args.nats})",
                 await measure_log(f"{args.nats}?prefix={prefix}", args.scale / 4), baseline)
        finally:
            await drop_prefix(args.nats, prefix)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    show("64-bit IDs", measure_ids())


if __name__ == "__main__":
    asyncio.run(main())
