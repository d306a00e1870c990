"""CPU time of one search and one suggestion in process, through the whole app (middleware,
token check, search, rendering, JSON) but without uvicorn, sockets or a load generator: what a
change to the search code saves, measured as the main thread's CPU time (``time.thread_time``),
so other work on a shared machine moves the figure less than it moves ``bench/search.py``'s
latencies. Modelled on ``bench/feed_cpu.py``; ``bench/search_cpu.py`` calls the search
service alone (no HTTP stack), as the earlier figures on the benchmarks page were measured.

    .venv/bin/python bench/search_app_cpu.py [--clips 20000] [--users 2000] [--engine sqlite|postgres]
                                             [--requests 60] [--rounds 5] [--keep DIR]
                                             [--profile healthz|search|popular|hybrid|suggest]

Set-up: ``bench/search.py``'s catalogue (same generator: captions of Zipf-drawn synthetic words,
hashtags, creators; the lexical index rebuilt, then semantic vectors) at a smaller size, in a
scratch SQLite file or PostgreSQL database (``--keep DIR``: seeded once into DIR, or a database
named after the size, and reused); the app is built with ``create_app(services=...)`` and
called through httpx's ASGI transport. Start-up's objects are frozen out of the garbage
collector's passes, as ``clipfeed serve`` does. Half the requests are anonymous, half from a
signed-in viewer who follows, blocks and mutes someone (so every check runs). Each round asks,
``--requests`` times each:

* ``/healthz``: the baseline (the app's middleware and the in-process client alone);
* search: ``bench/search.py``'s mix (words, typos, prefixes, two words, ``#tag``, ``@handle``),
  ``mode=lexical``, queries new to the process in every round;
* search, popular: a pool of 20 such queries asked again and again (their text rankings cached);
* search, hybrid: new queries as the app asks them (words and meaning, the query through the
  sentence model; the model's own process's CPU is not counted);
* suggest: 2-6 letter prefixes, some with a typo, new in every round.

The table gives each path's median over rounds and its ratio to ``/healthz``'s median (the
in-process client's own cost is in every row). With PostgreSQL the database's work is in its
own processes: only the client's CPU is counted, as for SQLite it is all in this one (the
SQLite connection's thread is not the main thread, though: its statements' CPU is not counted).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import os
import pstats
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search import (  # noqa: E402
    creator_handles,
    forget_queries,
    kept_postgres,
    search_queries,
    seed,
    seed_vectors,
    suggest_queries,
    vocabulary,
)

PATHS = ("healthz", "search", "popular", "hybrid", "suggest")
NAMES = {"healthz": "GET /healthz (baseline)", "search": "search, lexical, varied queries",
         "popular": "search, lexical, repeated popular queries", "hybrid": "search, hybrid (words and meaning)",
         "suggest": "suggest"}


async def _viewer(services: object) -> str:
    """A signed-in viewer with a follow, a block and a mute; returns their access token."""
    import sqlalchemy as sa

    from clipfeed.accounts import tokens
    from clipfeed.accounts.models import AuthToken, User
    from clipfeed.infra.db import utcnow
    from clipfeed.search import mutes
    from clipfeed.social.models import Block, Follow

    db = services.db  # type: ignore[attr-defined]
    token = tokens.new_token()
    now = utcnow()
    async with db.session() as session:
        viewer, followed, blocked = [int(i) for i in await session.scalars(
            sa.select(User.id).order_by(User.id).limit(3))]
        session.add(AuthToken(digest=tokens.digest(token), user_id=viewer, kind="access", family=viewer,
                              created_at=now, expires_at=now + timedelta(days=1)))
        if not await session.scalar(sa.select(sa.func.count()).select_from(Follow).where(Follow.follower_id == viewer)):
            session.add(Follow(id=services.ids.next_id(), follower_id=viewer, followee_id=followed,  # type: ignore[attr-defined]
                               created_at=now))
            session.add(Block(id=services.ids.next_id(), blocker_id=viewer, blocked_id=blocked,  # type: ignore[attr-defined]
                              created_at=now))
    await mutes.add(db=db, user_id=viewer, kind="word", value="zzzq")
    return token


async def run(args: argparse.Namespace, env: dict[str, str], *, seeded: bool) -> None:
    import httpx
    from threadpoolctl import threadpool_limits

    from clipfeed.api import create_app
    from clipfeed.bootstrap import bootstrap
    from clipfeed.settings import Settings

    rng = np.random.default_rng(11)
    words = vocabulary(rng, 3000)
    tags = [f"{w}{n}" for n, w in enumerate(vocabulary(rng, 500))]
    handles = creator_handles(words, args.users)
    if not seeded:
        seconds = await seed(env, clips=args.clips, users=args.users, rng=np.random.default_rng(12), words=words,
                             tags=tags)
        print(f"seeded {args.clips} clips, {args.users} creators (indexing {seconds:.0f} s)")
    else:
        await forget_queries(env)  # each run's suggestions start from the same query log
    if took := await seed_vectors(env, words=words, tags=tags):
        print(f"semantic vectors written in {took:.0f} s")
    os.environ.update(env)
    threadpool_limits(1)  # as serve caps them (CLIPFEED_SERVE_COMPUTE_THREADS=1)
    services = await bootstrap(Settings(), relay=False)
    app = create_app(services=services)
    token = await _viewer(services)
    headers = [{}, {"Authorization": f"Bearer {token}"}]
    qrng = np.random.default_rng(5)
    rounds = args.rounds + 1  # the first is the warm-up
    varied = search_queries(qrng, words, tags, handles, args.requests * rounds)
    hybrid = search_queries(qrng, words, tags, handles, args.requests * rounds)
    prefixes = suggest_queries(qrng, words, args.requests * rounds)
    pool = search_queries(qrng, words, tags, handles, 20)
    popular = [pool[n % len(pool)] for n in range(args.requests)]

    def part(queries: list[str], round_no: int) -> list[str]:
        return queries[round_no * args.requests:(round_no + 1) * args.requests]

    def requests(name: str, round_no: int) -> list[str]:
        if name == "healthz":
            return ["/healthz"] * args.requests
        if name == "search":
            return [f"/v1/search?{urlencode({'q': q, 'mode': 'lexical'})}" for q in part(varied, round_no)]
        if name == "popular":
            return [f"/v1/search?{urlencode({'q': q, 'mode': 'lexical'})}" for q in popular]
        if name == "hybrid":
            return [f"/v1/search?{urlencode({'q': q})}" for q in part(hybrid, round_no)]
        return [f"/v1/search/suggest?{urlencode({'q': q})}" for q in part(prefixes, round_no)]

    costs: dict[str, list[float]] = {path: [] for path in PATHS}
    profiler = cProfile.Profile()
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:

            async def ask(paths: list[str]) -> None:
                for n, path in enumerate(paths):
                    response = await client.get(path, headers=headers[n % 2])
                    assert response.status_code == 200, response.text

            for name in PATHS:  # warm-up: imports, the model, statement caches; popular queries cached
                await ask(requests(name, 0))
            gc.collect()
            gc.freeze()
            for round_no in range(1, rounds):
                for name in PATHS:
                    paths = requests(name, round_no)
                    profiling = args.profile == name
                    if profiling:
                        profiler.enable()
                    begun = time.thread_time()
                    await ask(paths)
                    costs[name].append((time.thread_time() - begun) / len(paths) * 1000)
                    if profiling:
                        profiler.disable()
    finally:
        await services.close()
    base = statistics.median(costs["healthz"])
    print(f"\n{args.engine}, {args.clips} clips, {args.users} creators: {args.requests} requests per path per round, "
          f"{args.rounds} rounds, CPU ms of the main thread per request\n")
    print("| what | median ms | rounds (ms) | vs /healthz |")
    print("|---|---:|---|---:|")
    for path in PATHS:
        median = statistics.median(costs[path])
        print(f"| {NAMES[path]} | {median:.2f} | {', '.join(f'{c:.2f}' for c in costs[path])} | {median / base:.1f}x |")
    if args.profile:
        print()
        stats = pstats.Stats(profiler)
        if args.profile_out:
            stats.dump_stats(args.profile_out)
        stats.sort_stats(args.sort).print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--requests", type=int, default=60, help="requests per path per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", help="a folder to keep the seeded catalogue in (SQLite; PostgreSQL: a database "
                                       "named after its size), reused by later runs")
    parser.add_argument("--profile", choices=PATHS, default=None,
                        help="also print a cProfile of that path (its figures then include the profiler)")
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--profile-out", help="also write the profile's statistics to this file (pstats)")
    args = parser.parse_args()
    from tests.services import postgres_database, postgres_server

    print(f"load before: {os.getloadavg()[0]:.2f}")
    with contextlib.ExitStack() as stack:
        kept = Path(args.keep) / f"search-cpu-{args.engine}-{args.clips}-{args.users}" if args.keep else None
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="clipfeed-bench-searchcpu-"))
        if args.engine == "postgres":
            server = stack.enter_context(postgres_server())
            database = (kept_postgres(server, f"clipfeed_bench_search_cpu_{args.clips}_{args.users}") if kept
                        else stack.enter_context(postgres_database(server)))
        else:
            database = f"sqlite:///{kept or tmp}/clipfeed.db"
        if kept:
            kept.mkdir(parents=True, exist_ok=True)
        env = {"CLIPFEED_DATA_DIR": str(kept or tmp), "CLIPFEED_DATABASE_URL": database,
               "CLIPFEED_INPROCESS_WORKERS": "none", "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_NODE_ID": "9"}
        marker = kept / "seeded" if kept else None
        asyncio.run(run(args, env, seeded=bool(marker and marker.exists())))
        if marker:
            marker.write_text("seeded")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
