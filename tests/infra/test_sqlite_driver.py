"""The embedded engine's cursor runs each statement whole in one trip to the connection's
thread (``clipfeed.infra.db.sqlite_driver``): what SQLAlchemy reads back must be what the
stock cursor gave."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiosqlite
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from clipfeed.infra.db import Database


@pytest.fixture
async def db(tmp_path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/driver.db")
    async with database.session() as session:
        await session.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT UNIQUE NOT NULL)"))
    yield database
    await database.close()


async def test_rows_counts_and_new_row_ids_come_back_as_before(db: Database) -> None:
    async with db.session() as session:
        first = await session.execute(sa.text("INSERT INTO notes (body) VALUES ('a')"))
        assert first.lastrowid == 1  # type: ignore[attr-defined]
        await session.execute(sa.text("INSERT INTO notes (body) VALUES (:body)"), [{"body": b} for b in "bcd"])
        changed = await session.execute(sa.text("UPDATE notes SET body = body || '!' WHERE id > 2"))
        assert changed.rowcount == 2  # type: ignore[attr-defined]
    async with db.session() as session:
        rows = (await session.execute(sa.text("SELECT id, body FROM notes ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c!"), (4, "d!")]
        assert (await session.execute(sa.text("SELECT body FROM notes WHERE id = 99"))).all() == []
        assert await session.scalar(sa.text("SELECT count(*) FROM notes")) == 4


async def test_a_statement_takes_one_trip_to_the_connection_thread(db: Database, monkeypatch) -> None:
    trips = 0
    queue = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal trips
        trips += 1
        return await queue(self, fn, *args, **kwargs)

    async with db.session() as session:
        await session.execute(sa.text("SELECT 1"))  # the transaction begun
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        for _ in range(5):
            assert (await session.execute(sa.text("SELECT body FROM notes"))).all() == []
        monkeypatch.undo()
    assert trips == 5  # the stock cursor made four each: cursor, execute, fetchall, close


async def test_database_errors_keep_their_kinds(db: Database) -> None:
    async with db.session() as session:
        await session.execute(sa.text("INSERT INTO notes (body) VALUES ('same')"))
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            await session.execute(sa.text("INSERT INTO notes (body) VALUES ('same')"))
    with pytest.raises(OperationalError):
        async with db.session() as session:
            await session.execute(sa.text("SELECT missing FROM notes"))
    async with db.session() as session:  # the pool's connections still work
        assert await session.scalar(sa.text("SELECT count(*) FROM notes")) == 1
