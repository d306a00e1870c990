"""The embedded engines' SQLite files are shared by the server, the workers and CLI commands
in other processes: a write that finds another process holding the write lock waits for it
(here 12 s, past SQLite's old 10 s busy timeout, as a long `events replay --rebuild` may hold
it) instead of failing with "database is locked"."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from clipfeed.infra.db import Database
from clipfeed.infra.log import TopicSpec, open_event_log

HOLD_S = 12
HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


@contextmanager
def another_process_writing(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding ``path``'s write lock for ``HOLD_S`` seconds."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), str(HOLD_S)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        holder.wait(HOLD_S + 30)


async def test_an_append_to_the_embedded_log_waits_out_another_process_holding_the_lock(tmp_path: Path) -> None:
    log = await open_event_log(f"embedded://{tmp_path / 'events'}")
    try:
        await log.ensure_topic(TopicSpec("test.shared", partitions=1))
        with another_process_writing(tmp_path / "events" / "events.sqlite3") as holder:
            position = await log.append("test.shared", b"after the other process", key=b"k")
            assert holder.wait(30) == 0  # the other writer held the lock until it was done, and ended well
        [record] = await log.read("test.shared", position.partition, from_offset=position.offset)
        assert record.value == b"after the other process"
    finally:
        await log.close()


async def test_a_metadata_write_waits_out_another_process_holding_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "clipfeed.db"
    db = Database(f"sqlite:///{path}")
    try:
        async with db.session() as session:
            await session.execute(sa.text("CREATE TABLE shared (n INTEGER)"))
        with another_process_writing(path) as holder:
            async with db.session() as session:
                # Read first, then write: the shape of most of our transactions.
                await session.execute(sa.text("SELECT count(*) FROM shared"))
                await session.execute(sa.text("INSERT INTO shared VALUES (1)"))
            assert holder.wait(30) == 0
        async with db.session() as session:
            assert await session.scalar(sa.text("SELECT count(*) FROM shared")) == 1
    finally:
        await db.close()
