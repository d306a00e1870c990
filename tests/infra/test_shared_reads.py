"""``Database.shared_reads``: one session for a request's many reads, each statement seeing
what is committed when it runs; on PostgreSQL without BEGIN and COMMIT around them."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from clipfeed.infra.db import Database


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(request: pytest.FixtureRequest, tmp_path):
    url = f"sqlite:///{tmp_path}/shared.db" if request.param == "sqlite" else str(
        request.getfixturevalue("postgres_url"))
    found = Database(url)
    yield found
    await found.close()


@pytest.fixture
async def postgres(postgres_url: str):
    found = Database(postgres_url)
    yield found
    await found.close()


async def test_shared_reads_see_each_commit_as_it_lands(database: Database) -> None:
    async with database.session() as session:
        await session.execute(sa.text("CREATE TABLE shared_notes (body TEXT)"))
    async with database.shared_reads():
        async with database.read_session() as reading:
            first = await reading.scalar(sa.text("SELECT count(*) FROM shared_notes"))
            async with database.session() as writing:  # another request's write, committed
                await writing.execute(sa.text("INSERT INTO shared_notes VALUES ('new')"))
        async with database.read_session() as same:
            assert same is reading  # the block's one session
            assert await same.scalar(sa.text("SELECT count(*) FROM shared_notes")) == first + 1


async def test_shared_reads_on_postgresql_run_outside_a_transaction(postgres: Database) -> None:
    """(SQLite opens no transaction for a read at all: ``test_sqlite_endings``.)"""
    database = postgres
    async with database.shared_reads(), database.read_session() as session:
        first = await session.scalar(sa.text("SELECT now()"))
        await asyncio.sleep(0.02)
        # now() is the transaction's start: equal within one, different in autocommit.
        assert await session.scalar(sa.text("SELECT now()")) != first
    async with database.session() as session:  # an ordinary session still is one transaction
        first = await session.scalar(sa.text("SELECT now()"))
        await asyncio.sleep(0.02)
        assert await session.scalar(sa.text("SELECT now()")) == first
