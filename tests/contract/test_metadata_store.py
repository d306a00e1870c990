"""One suite for the metadata store on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from clipfeed.accounts.models import User
from clipfeed.core.ids import IdGenerator
from clipfeed.infra.db import Database
from clipfeed.infra.db.migrate import downgrade, missing_heads, upgrade

ids = IdGenerator(11)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/meta.db"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    upgrade(db_url)
    database = Database(db_url)
    yield database
    await database.close()


def _user(handle: str) -> User:
    return User(id=ids.next_id(), handle=handle, email=f"{handle}@example.com", display_name=handle,
                bio="", role="user")


def test_migrations_run_up_down_and_up_again(db_url: str) -> None:
    upgrade(db_url)
    assert missing_heads(db_url) == set()
    downgrade(db_url, "base")
    assert missing_heads(db_url)
    upgrade(db_url)
    assert missing_heads(db_url) == set()


async def test_unique_handle_is_enforced_by_the_database(db: Database) -> None:
    async with db.session() as session:
        session.add(_user("same_name"))
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            session.add(_user("same_name"))


async def test_a_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            session.add(_user("rolled_back"))
            await session.flush()
            raise RuntimeError("crash mid-transaction")
    async with db.session() as session:
        assert await session.scalar(sa.select(User).where(User.handle == "rolled_back")) is None


async def test_datetimes_come_back_as_utc_aware(db: Database) -> None:
    user = _user("timely")
    user.created_at = datetime(2025, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    async with db.session() as session:
        session.add(user)
    async with db.session() as session:
        stored = await session.get(User, user.id)
    assert stored is not None
    assert stored.created_at == datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    assert stored.created_at.tzinfo is not None


async def test_ids_beyond_32_bits_round_trip(db: Database) -> None:
    user = _user("bigid")
    assert user.id > 2**40
    async with db.session() as session:
        session.add(user)
    async with db.session() as session:
        assert (await session.get(User, user.id)) is not None


async def test_sharded_rows_go_to_the_database_their_key_maps_to(db_url: str, tmp_path) -> None:
    shard_urls = [f"sqlite:///{tmp_path}/shard0.db", f"sqlite:///{tmp_path}/shard1.db"]
    for url in [db_url, *shard_urls]:
        upgrade(url)
    database = Database(db_url, shard_urls=shard_urls, virtual_shards=64)
    try:
        keys = [ids.next_id() for _ in range(40)]
        for key in keys:
            async with database.shard_session(key) as session:
                session.add(User(id=key, handle=f"u{key}"[-30:], display_name="", bio="", role="user"))
        placed: dict[int, set[int]] = {}
        for index in range(database.shard_count):
            async with database.shard_session_at(index) as session:
                placed[index] = set((await session.scalars(sa.select(User.id))).all())
        assert placed[0] and placed[1], "both shards should hold some keys"
        assert placed[0] | placed[1] == set(keys) and not placed[0] & placed[1]
        for key in keys:
            assert key in placed[database.shard_index(key)]
        async with database.session() as session:  # the main database holds none of them
            assert (await session.scalar(sa.select(sa.func.count()).select_from(User))) == 0
    finally:
        await database.close()


async def test_ping_fails_fast_when_the_database_is_down() -> None:
    database = Database("postgresql://postgres@127.0.0.1:1/none")
    started = datetime.now(UTC)
    with pytest.raises(Exception):  # noqa: B017 - any driver error; the point is the deadline
        await database.ping()
    assert datetime.now(UTC) - started < timedelta(seconds=5)
    await database.close()


def test_migrations_create_exactly_the_tables_the_models_declare(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    import clipfeed.schema  # noqa: F401
    from clipfeed.infra.db import Base, sync_url

    upgrade(db_url)
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    # Ignore Alembic's own bookkeeping table; anything else means a model and its migration disagree.
    # The search engines' own text indexes (SQLite FTS5 virtual tables search_fts_*, PostgreSQL
    # indexes ix_search_fts_* and the stored words they cover, columns fts_*) are engine-specific
    # structures no model declares.
    relevant = [d for d in diff if not (
        (d[0] == "remove_table" and (d[1].name == "alembic_version" or d[1].name.startswith("search_fts_")))
        or (d[0] == "remove_index" and str(d[1].name).startswith("ix_search_fts_"))
        or (d[0] == "remove_column" and str(d[3].name).startswith("fts_")))]
    assert relevant == []
