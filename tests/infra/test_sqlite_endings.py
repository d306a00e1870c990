"""SQLite sessions that only read send no COMMIT or ROLLBACK (each is a trip to aiosqlite's
thread), while a write's transaction still ends the way it should."""

from __future__ import annotations

import aiosqlite.core
import pytest
import sqlalchemy as sa

from clipfeed.infra.db.engine import make_engine


async def test_reads_end_without_a_trip_and_writes_still_commit_or_roll_back(tmp_path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    commit, rollback = aiosqlite.core.Connection.commit, aiosqlite.core.Connection.rollback

    async def counted_commit(self: aiosqlite.core.Connection) -> None:
        sent.append("commit")
        await commit(self)

    async def counted_rollback(self: aiosqlite.core.Connection) -> None:
        sent.append("rollback")
        await rollback(self)

    monkeypatch.setattr(aiosqlite.core.Connection, "commit", counted_commit)
    monkeypatch.setattr(aiosqlite.core.Connection, "rollback", counted_rollback)
    engine = make_engine(f"sqlite:///{tmp_path}/endings.db")
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE TABLE notes (body TEXT)"))
        sent.clear()
        for _ in range(3):
            async with engine.begin() as conn:
                await conn.execute(sa.text("SELECT count(*) FROM notes"))
        assert sent == []  # three read-only transactions and their connections' resets
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO notes VALUES ('kept')"))
        assert sent == ["commit"]
        with pytest.raises(RuntimeError):
            async with engine.begin() as conn:
                await conn.execute(sa.text("INSERT INTO notes VALUES ('dropped')"))
                raise RuntimeError("the request failed half-way")
        assert sent == ["commit", "rollback"]
        async with engine.connect() as conn:
            assert (await conn.execute(sa.text("SELECT body FROM notes"))).scalars().all() == ["kept"]
    finally:
        await engine.dispose()
