"""CPU time of one feed page in process, through the whole app (middleware, token check,
ranking, claim, rendering, JSON) but without uvicorn, sockets or a load generator: what a change
to the serving code saves, measured as the main thread's CPU time (``time.thread_time``), so
other work on a shared machine moves the figure less than it moves ``bench/feed.py``'s latencies.

    .venv/bin/python bench/feed_cpu.py [--clips 20000] [--users 100] [--rounds 5]
                                       [--profile hit|rerank|cold [--sort cumulative] [--only-matching clipfeed]]

Set-up: ``bench/feed.py``'s catalogue and models (``seed``) at a smaller size, in a scratch data
directory with SQLite and the machine's Redis (database 11, or a throwaway one); the app is
called through httpx's ASGI transport. Start-up's objects are frozen out of the garbage
collector's passes, as ``clipfeed serve`` does. Each round asks, for ``--users`` signed-in
viewers each:

* ``/healthz``: the baseline (the app's middleware and the in-process client alone);
* new viewer (cold start): the viewer's first page;
* buffer hit: their next page;
* re-ranked: a page after a strong signal the buffer has not seen (as ``bench/feed.py`` marks it).

Each round uses fresh viewers; the table gives each path's median over rounds and its ratio to
``/healthz``'s median (the in-process client's own cost is in every row, so ratios understate
the serving code's share).
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
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.feed import _settings_env, seed  # noqa: E402

PATHS = ("healthz", "cold", "hit", "rerank")


async def run(args: argparse.Namespace, redis_url: str) -> None:
    import httpx
    from threadpoolctl import threadpool_limits

    from clipfeed.api import create_app
    from clipfeed.bootstrap import bootstrap
    from clipfeed.recs.profile import dirty_key
    from clipfeed.settings import Settings

    with tempfile.TemporaryDirectory(prefix="clipfeed-bench-feedcpu-") as tmp:
        env = _settings_env(Path(tmp), f"{redis_url.rstrip('/')}/11", 0)
        started = time.perf_counter()
        access, user_ids = await seed(env, clips=args.clips, users=args.users * (args.rounds + 1),
                                      rng=np.random.default_rng(7))
        print(f"seeded {args.clips} clips in {time.perf_counter() - started:.0f} s")
        os.environ.update(env)
        threadpool_limits(1)  # as serve caps them (CLIPFEED_SERVE_COMPUTE_THREADS=1)
        services = await bootstrap(Settings(), relay=False)
        app = create_app(services=services)
        costs: dict[str, list[float]] = {path: [] for path in PATHS}
        profiler = cProfile.Profile()
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:

            async def pages(headers: list[dict[str, str]], path: str = "/v1/feed") -> None:
                for header in headers:
                    response = await client.get(path, headers=header)
                    assert response.status_code == 200, response.text

            async def timed(name: str, headers: list[dict[str, str]], path: str = "/v1/feed") -> None:
                profiling = args.profile == name
                if profiling:
                    profiler.enable()
                begun = time.thread_time()
                await pages(headers, path)
                costs[name].append((time.thread_time() - begun) / len(headers) * 1000)
                if profiling:
                    profiler.disable()

            auth = [{"Authorization": f"Bearer {token}"} for token in access]
            await pages(auth[: args.users])  # warm-up: imports, models, statement caches
            await pages(auth[: args.users])
            gc.collect()
            gc.freeze()
            for round_no in range(1, args.rounds + 1):
                part = slice(round_no * args.users, (round_no + 1) * args.users)
                viewers = auth[part]
                await timed("healthz", [{}] * args.users, "/healthz")
                await timed("cold", viewers)
                await timed("hit", viewers)
                await services.cache.set_many({dirty_key(f"u:{u}"): str(time.time() + 3600).encode()
                                               for u in user_ids[part]}, ttl=3600)
                await timed("rerank", viewers)
        await services.cache.flush()
        await services.close()
    base = statistics.median(costs["healthz"])
    print(f"\n{args.users} requests per path per round, {args.rounds} rounds, CPU ms of the main thread per request\n")
    print("| what | median ms | rounds (ms) | vs /healthz |")
    print("|---|---:|---|---:|")
    names = {"healthz": "GET /healthz (baseline)", "cold": "feed, new viewer (cold start)",
             "hit": "feed, buffer hit", "rerank": "feed, re-ranked after a signal"}
    for path in PATHS:
        median = statistics.median(costs[path])
        print(f"| {names[path]} | {median:.2f} | {', '.join(f'{c:.2f}' for c in costs[path])} | {median / base:.1f}x |")
    if args.profile:
        print()
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.only_matching, 40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=100, help="viewers per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", choices=["hit", "rerank", "cold"], default=None,
                        help="also print a cProfile of that path (its figures then include the profiler)")
    parser.add_argument("--sort", default="tottime", help="the profile's order (pstats: tottime, cumulative, ...)")
    parser.add_argument("--only-matching", default="", help="the profile's rows whose file or function match this")
    args = parser.parse_args()
    from tests.services import redis_server

    print(f"load before: {os.getloadavg()[0]:.2f}")
    with contextlib.ExitStack() as stack:
        asyncio.run(run(args, stack.enter_context(redis_server())))
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
