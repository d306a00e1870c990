"""``clipfeed shards move``: a virtual shard moves to another PostgreSQL shard database while
two processes' worth of writers keep inserting and deleting its rows, one of them never told of
the move. Afterwards every acknowledged write is there exactly once, on the new database only,
every acknowledged delete stays deleted, and both writers read the rows back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from clipfeed.core.errors import Unavailable
from clipfeed.core.ids import IdGenerator
from clipfeed.infra.db import Database, moves
from clipfeed.social.models import Like
from clipfeed.stream.models import ClipStats

pytestmark = pytest.mark.timeout(600)
CLIPFEED = Path(sys.executable).parent / "clipfeed"
VSHARDS = 64
IDS = IdGenerator(7)


@pytest.fixture
def shard_urls(postgres_copies) -> list[str]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(postgres_copies.database()) for _ in range(3)]


def keys_in(router, shard: int, count: int, start: int = 10**12) -> list[int]:
    found, key = [], start
    while len(found) < count:
        if router.shard_of(key) == shard:
            found.append(key)
        key += 1
    return found


async def _like(db: Database, user_id: int, clip_id: int) -> None:
    async with db.shard_session(user_id) as session:
        session.add(Like(id=IDS.next_id(), user_id=user_id, clip_id=clip_id))


async def _unlike(db: Database, user_id: int, clip_id: int) -> None:
    async with db.shard_session(user_id) as session:
        await session.execute(sa.delete(Like).where(Like.user_id == user_id, Like.clip_id == clip_id))


async def _rows_by_database(db: Database, table, key_column, keys: list[int]) -> dict[int, set[tuple]]:
    found = {}
    for index in range(db.shard_count):
        async with db.shard_session_at(index) as session:
            rows = (await session.execute(sa.select(table).where(key_column.in_(keys)))).scalars().all()
            found[index] = {tuple(getattr(r, c.key) for c in table.__table__.primary_key.columns) for r in rows}
    return found


async def test_a_shard_moves_under_writes_with_nothing_lost_or_duplicated(shard_urls, tmp_path) -> None:
    main, *shards = shard_urls
    db = Database(main, shard_urls=shards, virtual_shards=VSHARDS)
    stale = Database(main, shard_urls=shards, virtual_shards=VSHARDS)  # another process, never told
    await db.load_shard_map()
    await stale.load_shard_map()
    moving = next(s for s in range(VSHARDS) if db.router.database_of_shard(s) == 0)
    users = keys_in(db.router, moving, 60)
    bystanders = keys_in(db.router, next(s for s in range(VSHARDS) if db.router.database_of_shard(s) == 0
                                         and s != moving), 10)
    # what is there before the move: 60 users x 50 likes, and a counter row on the same shard
    async with db.shard_session(users[0]) as session:
        session.add_all([Like(id=IDS.next_id(), user_id=u, clip_id=c) for u in users for c in range(50)])
    async with db.shard_session(users[0]) as session:
        session.add(ClipStats(clip_id=users[0], likes=7))

    acked: set[tuple[int, int]] = {(u, c) for u in users for c in range(50)}
    deleted: set[tuple[int, int]] = set()
    waited: list[str] = []
    stop = asyncio.Event()

    async def writer(which: Database, seed: int) -> None:
        rng = random.Random(seed)
        clip = 1000 + seed * 100000
        while not stop.is_set():
            user = rng.choice(users + bystanders)
            try:
                if rng.random() < 0.2 and acked:
                    pair = rng.choice(sorted(acked - deleted))
                    await _unlike(which, *pair)
                    deleted.add(pair)
                else:
                    clip += 1
                    await _like(which, user, clip)
                    acked.add((user, clip))
            except Unavailable as exc:  # waited 30 s for a switch: would be a 503 with Retry-After
                waited.append(str(exc))
            await asyncio.sleep(0.002)

    env = {**os.environ, "CLIPFEED_DATABASE_URL": main, "CLIPFEED_DATABASE_SHARD_URLS": ",".join(shards),
           "CLIPFEED_VIRTUAL_SHARDS": str(VSHARDS), "CLIPFEED_DATA_DIR": str(tmp_path)}
    writers = [asyncio.create_task(writer(db, 1)), asyncio.create_task(writer(stale, 2))]
    await asyncio.sleep(0.5)
    moved = await asyncio.to_thread(subprocess.run, [str(CLIPFEED), "shards", "move", str(moving), "--to", "1"],
                                    env=env, capture_output=True, text=True, timeout=300)
    await asyncio.sleep(0.5)  # writes go on after the switch, through both processes
    stop.set()
    await asyncio.gather(*writers)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "moved" in moved.stderr and f"virtual shard {moving}" in moved.stderr, moved.stderr
    assert not waited, waited
    assert stale.router.database_of_shard(moving) == 1  # learnt at the old database's fence

    likes = await _rows_by_database(db, Like, Like.user_id, users + bystanders)
    mine = {(u, c) for (u, c) in acked - deleted if u in users}
    assert likes[1] >= mine and not (likes[1] & deleted)  # every acknowledged write, no deleted one
    assert not {(u, c) for (u, c) in likes[0] if u in users}  # nothing of the shard left behind
    assert {(u, c) for (u, c) in likes[1] if u in users} == mine  # and nothing more
    assert {(u, c) for (u, c) in likes[0] if u in bystanders} == {p for p in acked - deleted if p[0] in bystanders}
    stats = await _rows_by_database(db, ClipStats, ClipStats.clip_id, [users[0]])
    assert stats == {0: set(), 1: {(users[0],)}}

    # the process that was never told reads the shard from its new home
    async with stale.shard_session(users[1]) as session:
        seen = set((await session.scalars(sa.select(Like.clip_id).where(Like.user_id == users[1]))).all())
    assert seen == {c for (u, c) in mine if u == users[1]}

    shown = subprocess.run([str(CLIPFEED), "shards", "status", "--json"], env=env, capture_output=True, text=True,
                           timeout=120)
    found = json.loads(shown.stdout)
    assert found["pinned"] and found["databases"][0]["fenced"] == [moving]
    assert found["databases"][1]["vshards"] == found["databases"][0]["vshards"] + 2 + (VSHARDS % 2)
    assert all(entry["capture_triggers"] == 0 for entry in found["databases"])
    await db.close()
    await stale.close()


async def test_moves_are_refused_on_sqlite_shards(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path}/main.db", shard_urls=[f"sqlite:///{tmp_path}/s{n}.db" for n in range(2)])
    with pytest.raises(moves.MoveRefused, match="PostgreSQL"):
        await moves.move(db, 1, 1)
    await db.close()
