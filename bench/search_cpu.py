"""CPU time of one search and one suggestion, called in process (no HTTP, no load generator):
what a change to the search code saves, measured with ``time.process_time`` so that other work
on a shared machine moves the figure little. The catalogue is ``bench/search.py``'s (same
generator, same sizes), built once into ``--db`` and reused by later runs.

    .venv/bin/python bench/search_cpu.py [--clips 100000] [--users 20000] [--db /tmp/search-cpu.db]
                                         [--requests 300] [--profile search|suggest] [--mode hybrid]

After bootstrap, start-up's objects are frozen out of the garbage collector's passes, as
``clipfeed serve`` does (``api.settle_heap``). Each scenario warms up on other queries of the
same mix (imports, statement caches), then measures its queries twice: new to the process,
then repeated (their text rankings cached). Half anonymous, half as a signed-in viewer (who
follows, blocks and mutes someone, so every check runs). ``--database-url`` measures
PostgreSQL instead (then the database's own work is in another process: only the client's CPU
is counted, as for SQLite it is all in this one).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.search import (  # noqa: E402
    cpu_seconds,
    creator_handles,
    search_queries,
    seed,
    suggest_queries,
    vocabulary,
)


async def _viewers(services: object) -> list[int | None]:
    """An anonymous viewer and a signed-in one with a follow, a block and a mute."""
    import sqlalchemy as sa

    from clipfeed.accounts.models import User
    from clipfeed.infra.db import utcnow
    from clipfeed.search import mutes
    from clipfeed.social.models import Block, Follow

    db = services.db  # type: ignore[attr-defined]
    async with db.session() as session:
        ids = [int(i) for i in await session.scalars(sa.select(User.id).order_by(User.id).limit(3))]
        viewer, followed, blocked = ids
        if not await session.scalar(sa.select(sa.func.count()).select_from(Follow).where(Follow.follower_id == viewer)):
            session.add(Follow(id=services.ids.next_id(), follower_id=viewer, followee_id=followed,  # type: ignore[attr-defined]
                               created_at=utcnow()))
            session.add(Block(id=services.ids.next_id(), blocker_id=viewer, blocked_id=blocked,  # type: ignore[attr-defined]
                              created_at=utcnow()))
    await mutes.add(db=db, user_id=viewer, kind="word", value="zzzq")
    return [None, viewer]


async def run(args: argparse.Namespace) -> None:
    from clipfeed.api import settle_heap
    from clipfeed.bootstrap import bootstrap
    from clipfeed.infra.search import ClipFilters, open_search_index
    from clipfeed.search import service
    from clipfeed.search.suggest import suggest
    from clipfeed.settings import Settings

    rng = np.random.default_rng(11)
    words = vocabulary(rng, 3000)
    tags = [f"{w}{n}" for n, w in enumerate(vocabulary(rng, 500))]
    handles = creator_handles(words, args.users)
    url = args.database_url or f"sqlite:///{args.db}"
    env = {"CLIPFEED_DATA_DIR": tempfile.mkdtemp(prefix="clipfeed-search-cpu-"), "CLIPFEED_DATABASE_URL": url,
           "CLIPFEED_INPROCESS_WORKERS": "none", "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_NODE_ID": "9"}
    if args.database_url is None and not Path(args.db).exists() or args.seed:
        seconds = await seed(env, clips=args.clips, users=args.users, rng=np.random.default_rng(12), words=words,
                             tags=tags)
        print(f"seeded {args.clips} clips, {args.users} creators (indexing {seconds:.0f} s)")
    os.environ.update(env)
    services = await bootstrap(Settings(), relay=False)
    try:
        viewers = await _viewers(services)
        settle_heap()  # as ``clipfeed serve`` does once started: start-up's objects frozen
        index = open_search_index(services.db)
        qrng = np.random.default_rng(5)
        searches = search_queries(qrng, words, tags, handles, args.requests)
        suggestions = suggest_queries(qrng, words, args.requests)
        warm = np.random.default_rng(6)
        warm_searches = search_queries(warm, words, tags, handles, args.requests)
        warm_suggestions = suggest_queries(warm, words, args.requests)

        async def one_search(n: int, q: str) -> None:
            await service.search(services=services, index=index, viewer_id=viewers[n % 2], text=q, kind="all",
                                 filters=ClipFilters(), cursor=None, limit=20, region="bench",
                                 semantic=args.mode == "hybrid")

        async def one_suggest(n: int, q: str) -> None:
            await suggest(services=services, index=index, viewer_id=viewers[n % 2], text=q, limit=8,
                          region="bench")

        scenarios = {"search": (one_search, searches, warm_searches),
                     "suggest": (one_suggest, suggestions, warm_suggestions)}
        for name, (call, queries, warm_queries) in scenarios.items():
            for n, q in enumerate(warm_queries):  # warm-up: other queries of the same mix
                await call(n, q)
            # First the queries new to the process (as most of the bench's are), then the same
            # again (their text rankings cached, as a popular query's would be).
            for label in ("new", "repeated"):
                profiler = cProfile.Profile() if args.profile == name and label == "new" else None
                started, wall, loop = time.process_time(), time.perf_counter(), time.thread_time()
                models = cpu_seconds(os.getpid()) - time.process_time()  # the model process's (a child)
                if profiler:
                    profiler.enable()
                for n, q in enumerate(queries):
                    await call(n, q)
                if profiler:
                    profiler.disable()
                cpu = (time.process_time() - started) * 1000 / len(queries)
                in_loop = (time.thread_time() - loop) * 1000 / len(queries)
                model = (cpu_seconds(os.getpid()) - time.process_time() - models) * 1000 / len(queries)
                print(f"{name} ({label} queries): {cpu:.2f} ms CPU per request ({in_loop:.2f} in the event loop's "
                      f"thread; {model:.2f} more in the model process), "
                      f"{(time.perf_counter() - wall) * 1000 / len(queries):.2f} ms wall ({len(queries)} requests)")
                if profiler:
                    pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    finally:
        await services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--db", default=os.path.join(tempfile.gettempdir(), "clipfeed-search-cpu.db"))
    parser.add_argument("--database-url", help="a PostgreSQL database to use instead (seeded with --seed)")
    parser.add_argument("--seed", action="store_true", help="seed even if the database exists")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--mode", choices=["lexical", "hybrid"], default="lexical",
                        help="hybrid: words and meaning, as the app asks (the catalogue needs vectors: "
                             "bench/search.py --keep writes them)")
    parser.add_argument("--profile", choices=["search", "suggest"])
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--top", type=int, default=40)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
