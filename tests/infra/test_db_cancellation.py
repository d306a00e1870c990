"""A task cancelled inside a transaction (a worker role stopping, a relay shutting down, a
request whose client went away) must end its transaction with it. Before, a cancellation that
arrived inside a statement, a commit or a rollback made SQLAlchemy drop the connection still
inside its transaction; on SQLite that connection kept the file's write lock until the garbage
collector found it, and the next writer failed with "database is locked" (a 503 seen in the
visibility walk, right after the test stopped its stream role)."""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from clipfeed.infra.db import Database
from tests.helpers import sqlite_write_lock_free

ROUNDS = 40
WRITERS = 3


@pytest.fixture
def no_garbage_collector() -> Iterator[None]:
    """Without the collector a leaked connection is never closed behind the test's back, so a
    leak shows every time rather than whenever a collection happens to run late."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_a_writer_cancelled_mid_transaction_leaves_the_write_lock_free(
        tmp_path: Path, no_garbage_collector: None) -> None:
    path = tmp_path / "cancel.db"
    db = Database(f"sqlite:///{path}")
    async with db.session() as session:
        await session.execute(sa.text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        await session.execute(sa.text("INSERT INTO counter VALUES (1, 0)"))

    async def read_then_write() -> None:
        while True:
            async with db.session() as session:
                n = await session.scalar(sa.text("SELECT n FROM counter WHERE id = 1"))
                await session.execute(sa.text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})
                await session.scalar(sa.text("SELECT n FROM counter WHERE id = 1"))

    chance = random.Random(13)
    try:
        for round_ in range(ROUNDS):
            writers = [asyncio.create_task(read_then_write()) for _ in range(WRITERS)]
            # Cancelled at some point of their statements, commits or rollbacks.
            await asyncio.sleep(chance.uniform(0.001, 0.02))
            for writer in writers:
                writer.cancel()
            outcomes = await asyncio.gather(*writers, return_exceptions=True)
            assert all(isinstance(o, asyncio.CancelledError) for o in outcomes), outcomes
            assert await asyncio.to_thread(sqlite_write_lock_free, path, wait=2), (
                f"write lock still held after round {round_}")
        # And the database still takes writes through the same pool.
        async with db.session() as session:
            await session.execute(sa.text("UPDATE counter SET n = n + 1 WHERE id = 1"))
    finally:
        await db.close()
