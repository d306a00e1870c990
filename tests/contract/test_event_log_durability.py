"""The embedded log under ``kill -9``: real processes, killed mid-stream, then reopened."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clipfeed.infra.log import OutgoingRecord, TopicSpec, open_event_log

APPENDER = textwrap.dedent("""
    import asyncio, sys
    from clipfeed.infra.log import open_event_log

    async def main():
        log = await open_event_log(sys.argv[1])

        async def producer(n):
            i = 0
            while True:
                value = f"{n}-{i}"
                pos = await log.append("durable", value.encode(), key=str(n).encode())
                sys.stdout.write(f"{pos.partition} {pos.offset} {value}\\n")  # one write per line
                sys.stdout.flush()
                i += 1

        await asyncio.gather(*(producer(n) for n in range(16)))

    asyncio.run(main())
""")

CONSUMER = textwrap.dedent("""
    import asyncio, sys
    from clipfeed.infra.log import open_event_log

    async def main():
        log = await open_event_log(sys.argv[1])
        member = await log.consumer("work", "media", shared=sys.argv[2] == "shared", ack_wait=1.0)
        records = []
        while len(records) < 10:
            records += await member.fetch(10 - len(records), timeout=1.0)
        await member.ack_many(records[:5])
        print(" ".join(r.value.decode() for r in records[:5]), flush=True)
        print("READY", flush=True)
        await asyncio.sleep(3600)  # "busy" with the other five until killed

    asyncio.run(main())
""")


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


async def test_acknowledged_appends_survive_kill_9_of_the_writer(tmp_path: Path) -> None:
    url = f"embedded://{tmp_path / 'log'}"
    proc = _spawn(APPENDER, url)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 20
    while len(lines) < 1000:
        line = proc.stdout.readline()
        assert line, f"appender died: {proc.stderr.read() if proc.stderr else ''}"
        lines.append(line)
        assert time.monotonic() < deadline
    os.kill(proc.pid, signal.SIGKILL)
    # Acks printed before the kill are still in the pipe; each line went out in one write.
    rest, _ = proc.communicate(timeout=10)
    lines += [line for line in rest.splitlines() if line.strip()]

    log = await open_event_log(url)
    try:
        for line in lines:
            partition, offset, value = line.split()
            (record,) = await log.read("durable", int(partition), from_offset=int(offset), limit=1)
            assert (record.offset, record.value) == (int(offset), value.encode())
    finally:
        await log.close()


@pytest.mark.parametrize("mode", ["shared", "partitioned"])
async def test_records_of_a_killed_consumer_go_to_a_new_member(tmp_path: Path, mode: str) -> None:
    url = f"embedded://{tmp_path / 'log'}"
    log = await open_event_log(url)
    try:
        await log.ensure_topic(TopicSpec("work", partitions=1))
        await log.append_batch("work", [OutgoingRecord(f"job-{i}".encode()) for i in range(20)])
        proc = _spawn(CONSUMER, url, mode)
        assert proc.stdout is not None
        acked = (await asyncio.to_thread(proc.stdout.readline)).split()
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "READY", proc.stderr
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

        member = await log.consumer("work", "media", shared=mode == "shared", ack_wait=1.0)
        received = []
        deadline = time.monotonic() + 8
        while len(received) < 15 and time.monotonic() < deadline:
            batch = await member.fetch(20, timeout=0.5)
            await member.ack_many(batch)
            received += batch
        values = sorted(r.value.decode() for r in received)
        assert len(acked) == 5 and not set(acked) & set(values)
        assert sorted(values + acked) == sorted(f"job-{i}" for i in range(20))
        assert sum(r.delivery_count >= 2 for r in received) == 5  # the killed member's unacked five
    finally:
        await log.close()
