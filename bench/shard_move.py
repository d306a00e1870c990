"""Moving a virtual shard of 100k rows between PostgreSQL shard databases while writers run.

    .venv/bin/python bench/shard_move.py [--rows 100000] [--writers 4] [--postgres URL]

Three fresh databases (main, two shards) on the server (default: the machine's, as the tests
use). One virtual shard of database 0 gets ``rows`` likes (2,000 users x rows/2,000), then
``writers`` tasks insert and delete likes of that shard and of another one as fast as they can
while ``clipfeed shards move`` runs as its own process. Reported:

* the move's duration and how long writes to the shard waited (the freeze);
* writes acknowledged during the move, and lost / duplicated / resurrected ones afterwards
  (must be 0);
* the baseline, measured in the same run: copying the same rows once with the same code and
  nothing else running (``moves._copy``), and the move's duration as a ratio of it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import clipfeed.schema  # noqa: E402, F401
from clipfeed.core.ids import IdGenerator  # noqa: E402
from clipfeed.infra.db import (
    Database,  # noqa: E402
    moves,  # noqa: E402
)
from clipfeed.infra.db.migrate import upgrade  # noqa: E402
from clipfeed.social.models import Like  # noqa: E402

CLIPFEED = Path(sys.executable).parent / "clipfeed"
VSHARDS = 64
IDS = IdGenerator(11)


def databases(server: str, count: int) -> list[str]:
    names = [f"clipfeed_bench_move_{uuid.uuid4().hex[:8]}_{n}" for n in range(count)]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    urls = [f"{server}/{name}" for name in names]
    for url in urls:
        upgrade(url)
    return urls


def drop(server: str, urls: list[str]) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        for url in urls:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def users_of(db: Database, shard: int, count: int) -> list[int]:
    found, key = [], 10**12
    while len(found) < count:
        if db.router.shard_of(key) == shard:
            found.append(key)
        key += 1
    return found


async def fill(db: Database, users: list[int], rows: int) -> set[tuple[int, int]]:
    per_user = max(1, rows // len(users))
    made = {(u, c) for u in users for c in range(per_user)}
    batch = sorted(made)
    for start in range(0, len(batch), 5000):
        async with db.shard_session(users[0]) as session:
            await session.execute(sa.insert(Like), [{"id": IDS.next_id(), "user_id": u, "clip_id": c}
                                                    for u, c in batch[start:start + 5000]])
    return made


async def run(args: argparse.Namespace) -> None:
    urls = databases(args.postgres, 5)
    try:
        await measure(args, urls)
    finally:
        drop(args.postgres, urls)


async def measure(args: argparse.Namespace, urls: list[str]) -> None:
    main, first, second, spare_a, spare_b = urls
    db = Database(main, shard_urls=[first, second], virtual_shards=VSHARDS)
    await db.load_shard_map()
    moving = next(s for s in range(VSHARDS) if db.router.database_of_shard(s) == 0)
    other = next(s for s in range(VSHARDS) if db.router.database_of_shard(s) == 0 and s != moving)
    users, others = users_of(db, moving, 2000), users_of(db, other, 200)
    acked = await fill(db, users, args.rows)
    acked |= await fill(db, others, 2000)
    deleted: set[tuple[int, int]] = set()

    # Baseline: the same rows copied once, nothing else running, between two spare databases.
    base = Database(spare_a, shard_urls=[spare_a, spare_b], virtual_shards=VSHARDS)
    await fill(base, users, args.rows)
    started = time.perf_counter()
    await moves._copy(base.shard_engine(0), base.shard_engine(1), await moves._keys(base.shard_engine(0), base, moving))
    copy_s = time.perf_counter() - started
    await base.close()

    stop = asyncio.Event()
    during = 0

    async def writer(seed: int) -> None:
        nonlocal during
        rng, clip = random.Random(seed), 10**9 + seed * 10**7
        while not stop.is_set():
            user = rng.choice(users if rng.random() < 0.8 else others)
            if rng.random() < 0.2:
                pair = (user, rng.randrange(max(1, args.rows // len(users))))
                async with db.shard_session(user) as session:
                    await session.execute(sa.delete(Like).where(Like.user_id == pair[0], Like.clip_id == pair[1]))
                deleted.add(pair)
            else:
                clip += 1
                async with db.shard_session(user) as session:
                    session.add(Like(id=IDS.next_id(), user_id=user, clip_id=clip))
                acked.add((user, clip))
            during += 1

    env = {**os.environ, "CLIPFEED_DATABASE_URL": main, "CLIPFEED_DATABASE_SHARD_URLS": f"{first},{second}",
           "CLIPFEED_VIRTUAL_SHARDS": str(VSHARDS)}
    tasks = [asyncio.create_task(writer(n)) for n in range(args.writers)]
    await asyncio.sleep(1)
    before = during
    started = time.perf_counter()
    moved = await asyncio.to_thread(subprocess.run, [str(CLIPFEED), "shards", "move", str(moving), "--to", "1"],
                                    env=env, capture_output=True, text=True, timeout=1800)
    move_s = time.perf_counter() - started
    written = during - before
    await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*tasks)
    if moved.returncode:
        raise SystemExit(moved.stderr)
    summary = [line for line in moved.stderr.splitlines() if "frozen" in line or "moved" in line]

    held: dict[int, set[tuple[int, int]]] = {}
    for index in range(db.shard_count):
        async with db.shard_session_at(index) as session:
            held[index] = {(int(u), int(c)) for u, c in (await session.execute(
                sa.select(Like.user_id, Like.clip_id).where(Like.user_id.in_(users + others)))).all()}
    expected = acked - deleted
    lost = len(expected - (held[0] | held[1]))
    duplicated = len(held[0] & held[1])
    resurrected = len((held[0] | held[1]) & deleted)
    misplaced = sum(1 for u, _c in held[0] if u in set(users))
    await db.close()
    print(f"virtual shard {moving}: {args.rows} rows before the move, {args.writers} writers")
    for line in summary:
        print("  " + line.strip())
    print(f"move {move_s:.2f} s; writes during it {written} ({written / move_s:.0f}/s)")
    print(f"lost {lost}, duplicated {duplicated}, resurrected {resurrected}, left on the old database {misplaced}")
    print(f"baseline: one plain copy of the same rows {copy_s:.2f} s; move / copy = {move_s / copy_s:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--postgres", default=os.environ.get("CLIPFEED_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432"))
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
