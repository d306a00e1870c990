"""The embedded log's cross-process wake-up: an idle consumer looks at the file only now and
then, so another process's append must reach it through the log's watcher (``PRAGMA
data_version``), not through that slow poll."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from clipfeed.infra.log import TopicSpec, open_event_log
from clipfeed.infra.log.embedded import consumer


async def test_another_processs_append_wakes_an_idle_consumer_without_its_slow_poll(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consumer, "IDLE_POLL_S", 60.0)  # the poll alone would take a minute
    url = f"embedded://{tmp_path / 'log'}"
    reader, writer = await open_event_log(url), await open_event_log(url)
    try:
        await reader.ensure_topic(TopicSpec("wake", partitions=1))
        member = await reader.consumer("wake", "watchers", ack_wait=5)
        waiting = asyncio.ensure_future(member.fetch(10, timeout=30))
        await asyncio.sleep(0.3)  # the fetch has looked once and is waiting
        await writer.append("wake", b"ping")
        appended = time.monotonic()
        (record,) = await waiting
        assert record.value == b"ping"
        assert time.monotonic() - appended < 10  # far below the minute the poll would take
    finally:
        await reader.close()
        await writer.close()


async def test_handles_opening_a_new_log_at_once_all_work(tmp_path: Path) -> None:
    """Turning a fresh file to WAL takes a lock SQLite's busy handler does not wait for; every
    handle (here four, as four processes starting together would) must still open and append."""
    url = f"embedded://{tmp_path / 'fresh'}"
    handles = await asyncio.gather(*(open_event_log(url) for _ in range(4)))
    try:
        await asyncio.gather(*(h.append("first", f"from {n}".encode()) for n, h in enumerate(handles)))
        assert sorted(r.value for r in await handles[0].read("first", 0)) == [f"from {n}".encode() for n in range(4)]
    finally:
        for handle in handles:
            await handle.close()
