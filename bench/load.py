"""A realistic mix of requests against ``clipfeed cluster``, and how it scales with API processes.

    .venv/bin/python bench/load.py [--apis 1,2,4] [--seconds 8] [--clips 20000] [--users 2000]

For each API process count, a cluster runs on this machine (``clipfeed cluster up --api N``:
nginx in front of the API processes, a media, stream, batch and lifecycle worker, the machine's
PostgreSQL with two shard databases, Redis and NATS, SeaweedFS for S3). Once, before the first
run (not timed): users with access tokens and ready clips inserted in bulk with their clip
cards, a retrieval snapshot and a ranker, as ``bench/feed.py`` does, so the feed runs its full
pipeline.

Then a load generator (its own process, aiohttp, open loop: a request is sent on time whatever
the previous answers did) offers a ladder of rates, each for ``--seconds``, through the
balancer:

* ``GET /healthz`` (the baseline: nginx, one HTTP hop and the load generator alone);
* the mix of the issue: 55 % feed pages, 25 % playback event batches (five events), 10 %
  engagement writes (likes and comments), 7 % reads (a clip, a profile), 3 % uploads (a tus
  creation and one PATCH of a small clip, which a media worker then transcodes).

A rate is *sustained* when at least 97 % of it was achieved, its p99 is at most 200 ms and at
most 0.1 % of requests failed (a non-2xx answer or no answer). The ladder stops at the first
rate that is not. The figures: the highest sustained rate of each, their ratio (mixed/healthz),
and per route at the highest sustained mixed rate its p50/p99 and errors.

Per-user rate limits are raised for the run (``RELAXED``): the benchmark measures capacity,
not the limits. Everything shares two cores with the load generator; ``uptime`` is printed
before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLIPFEED = str(Path(sys.executable).parent / "clipfeed")
RELAXED = {"CLIPFEED_REGISTER_RATE_PER_HOUR": "1000000", "CLIPFEED_SOCIAL_COMMENT_RATE_PER_MINUTE": "100000",
           "CLIPFEED_SOCIAL_COMMENT_RATE_PER_DAY": "1000000", "CLIPFEED_SOCIAL_WRITE_RATE_PER_MINUTE": "100000",
           "CLIPFEED_UPLOAD_CREATE_RATE_PER_HOUR": "1000000", "CLIPFEED_EVENTS_RATE_PER_MINUTE": "100000",
           "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_FEED_BUFFER_STALE_S": "3600"}
FINAL_PATCH = "PATCH upload (whole clip)"
MIX = (("feed", 0.55), ("events", 0.25), ("engagement", 0.10), ("reads", 0.07), ("uploads", 0.03))
P99_GOAL_MS = 200.0


# --- set-up -------------------------------------------------------------------------------

def _seed(env: dict[str, str], clips: int, users: int, out: Any) -> None:
    """In a child process (``bench/feed.py``'s seed sets the environment it reads)."""
    import sqlalchemy as sa
    from bench.feed import seed

    from clipfeed.bootstrap import bootstrap
    from clipfeed.settings import Settings

    async def run() -> None:
        access, _ids = await seed(env, clips=clips, users=users, rng=np.random.default_rng(7))
        services = await bootstrap(Settings(), relay=False)
        async with services.db.engine.connect() as conn:
            ids = [str(row[0]) for row in await conn.execute(sa.text("SELECT id FROM clips LIMIT 5000"))]
        await services.close()
        out.put((access, ids))

    asyncio.run(run())


def seed(env: dict[str, str], clips: int, users: int) -> tuple[list[str], list[str]]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_seed, args=(env, clips, users, queue))
    child.start()
    result = queue.get(timeout=1800)
    child.join()
    return result


def small_clip(folder: Path) -> bytes:
    path = folder / "small.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15",
                    "-f", "lavfi", "-i", "sine=frequency=440", "-t", "1", "-c:v", "libx264", "-preset",
                    "ultrafast", "-c:a", "aac", "-shortest", str(path)], check=True, timeout=120)
    return path.read_bytes()


# --- the mixed requests -------------------------------------------------------------------

def plan_requests(kind: str, count: int, tokens: list[str], clip_ids: list[str], users: int,
                  rng: random.Random) -> list[tuple[str, str, str, dict[str, str], bytes | None]]:
    """(route label, method, path, headers, body) for each request, drawn up front so the
    generator only sends."""
    if kind == "healthz":
        return [("GET /healthz", "GET", "/healthz", {}, None)] * count
    names, weights = zip(*MIX, strict=True)
    out = []
    for _ in range(count):
        token = rng.choice(tokens)
        auth = {"Authorization": f"Bearer {token}"}
        clip = rng.choice(clip_ids)
        what = rng.choices(names, weights)[0]
        if what == "feed":
            out.append(("GET /v1/feed", "GET", "/v1/feed", auth, None))
        elif what == "events":
            now = int(time.time() * 1000)
            session = uuid.uuid4().hex[:12]
            events = [{"event_id": str(uuid.uuid4()), "type": kind_, "clip_id": rng.choice(clip_ids), "ts": now,
                       "session_id": session, "device": "web", "network": "wifi", **extra}
                      for kind_, extra in (("impression", {}), ("play_start", {"duration_ms": 15000}),
                                           ("progress", {"watch_ms": 3000, "position_ms": 3000}),
                                           ("complete", {"watch_ms": 12000, "duration_ms": 15000}),
                                           ("play_start", {}))]
            out.append(("POST /v1/events", "POST", "/v1/events", {**auth, "Content-Type": "application/json"},
                        json.dumps({"events": events}).encode()))
        elif what == "engagement":
            if rng.random() < 0.8:
                out.append(("PUT like", "PUT", f"/v1/clips/{clip}/like", auth, None))
            else:
                out.append(("POST comment", "POST", f"/v1/clips/{clip}/comments",
                            {**auth, "Content-Type": "application/json"},
                            json.dumps({"body": f"nice one {rng.randrange(1000)}"}).encode()))
        elif what == "reads":
            if rng.random() < 0.5:
                out.append(("GET clip", "GET", f"/v1/clips/{clip}", auth, None))
            else:
                # u100 and up: one- and two-character handles (u0…u99) are shorter than a handle may be.
                out.append(("GET profile", "GET", f"/v1/users/u{rng.randrange(100, max(101, users))}", auth, None))
        else:
            out.append(("upload", "UPLOAD", "/v1/uploads/", auth, None))
    return out


def generate(base: str, requests: list[tuple[str, str, str, dict[str, str], bytes | None]], rate: float,
             clip: bytes, result: Any) -> None:
    """The load generator (its own process): one request every 1/rate s, each on its own task."""
    import base64

    import aiohttp
    import uvloop

    async def run() -> None:
        latencies: dict[str, list[float]] = {}
        failures: dict[str, int] = {}
        connector = aiohttp.TCPConnector(limit=512)
        meta = "filename " + base64.b64encode(b"small.mp4").decode() + ",caption " + base64.b64encode(
            b"load #bench").decode()

        statuses: dict[str, dict[int, int]] = {}

        def record(label: str, started: float, ok: bool, status: int = 0) -> None:
            latencies.setdefault(label, []).append(time.perf_counter() - started)
            failures[label] = failures.get(label, 0) + (0 if ok else 1)
            if not ok:  # which answers failed (0: none, the connection or the 30 s timeout)
                statuses.setdefault(label, {})[status] = statuses.get(label, {}).get(status, 0) + 1

        async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
            async def send(label: str, method: str, path: str, headers: dict[str, str], body: bytes | None) -> None:
                started = time.perf_counter()
                try:
                    if method == "UPLOAD":
                        tus = {**headers, "Tus-Resumable": "1.0.0"}
                        async with http.post(path, headers={**tus, "Upload-Length": str(len(clip)),
                                                            "Upload-Metadata": meta}) as created:
                            await created.read()
                        record("POST upload (tus create)", started, created.status == 201, created.status)
                        if created.status != 201:
                            return
                        started = time.perf_counter()
                        location = created.headers["Location"]
                        location = location[len(base):] if location.startswith(base) else location
                        async with http.patch(location, data=clip, headers={
                                **tus, "Upload-Offset": "0",
                                "Content-Type": "application/offset+octet-stream"}) as patched:
                            await patched.read()
                        record("PATCH upload (whole clip)", started, patched.status == 204, patched.status)
                        return
                    async with http.request(method, path, headers=headers, data=body) as response:
                        await response.read()
                    record(label, started, 200 <= response.status < 300, response.status)
                except (aiohttp.ClientError, TimeoutError):
                    record(label if method != "UPLOAD" else "POST upload (tus create)", started, False)

            tasks = []
            begin = time.perf_counter()
            for n, request in enumerate(requests):
                delay = begin + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(send(*request)))
            sent = time.perf_counter() - begin
            await asyncio.gather(*tasks)
        result.put((latencies, failures, statuses, len(requests) / max(sent, 1e-9)))

    gc.collect()
    gc.disable()  # a measuring client must not pause (see bench/feed.py)
    uvloop.run(run())


def measure(base: str, requests: list[Any], rate: float, clip: bytes) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=generate, args=(base, requests, rate, clip, queue))
    process.start()
    latencies, failures, statuses, achieved = queue.get(timeout=900)
    process.join()
    every = np.concatenate([np.array(v) for v in latencies.values()]) * 1000
    total = sum(len(v) for v in latencies.values())
    routes = {label: {"n": len(values), "p50": float(np.percentile(np.array(values) * 1000, 50)),
                      "p99": float(np.percentile(np.array(values) * 1000, 99)), "errors": failures[label],
                      "statuses": statuses.get(label, {})}
              for label, values in sorted(latencies.items())}
    interactive = [np.array(v) for label, v in latencies.items() if label != FINAL_PATCH]
    return {"rate": rate, "achieved": achieved, "p50": float(np.percentile(every, 50)),
            "p99": float(np.percentile(every, 99)), "errors": sum(failures.values()), "requests": total,
            "p99_interactive": float(np.percentile(np.concatenate(interactive) * 1000, 99)), "routes": routes}


def sustained(row: dict[str, Any], *, judge: str = "all") -> bool:
    """``all``: every request counts toward the p99 (the issue's goal as written);
    ``interactive``: the upload's final PATCH is left out of it (it carries the file and its
    hand-off: sniffing, ffprobe, storing, committing, hundreds of milliseconds by design, on
    1.5 % of the requests), and its own p99 is shown beside."""
    p99 = row["p99"] if judge == "all" else row["p99_interactive"]
    return row["achieved"] >= 0.97 * row["rate"] and p99 <= P99_GOAL_MS and row["errors"] <= 0.001 * row["requests"]


def ladder(base: str, kind: str, rates: list[float], seconds: float, tokens: list[str], clip_ids: list[str],
           users: int, clip: bytes, *, judge: str = "all") -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    rng = random.Random(11)
    best, rows = None, []
    for rate in rates:
        row = measure(base, plan_requests(kind, int(rate * seconds), tokens, clip_ids, users, rng), rate, clip)
        rows.append(row)
        ok = sustained(row, judge=judge)
        print(f"|   {kind} | {rate:.0f} | {row['achieved']:.0f} | {row['p50']:.1f} | {row['p99']:.1f} | "
              f"{row['p99_interactive']:.1f} | {row['errors']}/{row['requests']} | "
              f"{'yes' if sustained(row) else 'no'} | {'yes' if sustained(row, judge='interactive') else 'no'} |",
              flush=True)
        if not ok:
            break
        best = row
    return best, rows


# --- the cluster --------------------------------------------------------------------------

def cluster(*args: str, env: dict[str, str]) -> str:
    run = subprocess.run([CLIPFEED, "cluster", *args], env=env, capture_output=True, text=True, timeout=600)
    if run.returncode:
        raise SystemExit(f"clipfeed cluster {' '.join(args)} failed:\n{run.stderr[-3000:]}")
    return run.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apis", default="1,2,4", help="API process counts to compare")
    parser.add_argument("--seconds", type=float, default=8.0, help="per rate")
    parser.add_argument("--clips", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=2_000)
    parser.add_argument("--mixed-rates", default="50,100,150,200,250,300,400,500")
    parser.add_argument("--healthz-rates", default="250,500,1000,1500,2000,3000")
    parser.add_argument("--mix", default="", help="other weights, e.g. feed=0.55,events=0.25,reads=0.2 "
                        "(the issue's mix by default)")
    parser.add_argument("--media", type=int, default=1,
                        help="media workers in the cluster; 0: uploads queue for workers that would run elsewhere")
    parser.add_argument("--judge", choices=("all", "interactive"), default="all",
                        help="which p99 decides that a mixed rate is sustained and the ladder goes on: every "
                             "request's, or every request's but the upload's final PATCH")
    args = parser.parse_args()
    if args.mix:
        global MIX
        MIX = tuple((name, float(weight)) for name, weight in (pair.split("=") for pair in args.mix.split(",")))
        unknown = {name for name, _ in MIX} - {"feed", "events", "engagement", "reads", "uploads"}
        if unknown:
            raise SystemExit(f"--mix: unknown parts {sorted(unknown)}")
    apis = [int(n) for n in args.apis.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="clipfeed-bench-load-"))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CLIPFEED_")}, **RELAXED}
    name = f"load{uuid.uuid4().hex[:6]}"
    print(f"load before: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    clip = small_clip(folder)
    summary = []
    tokens: list[str] = []
    clip_ids: list[str] = []
    try:
        for n in apis:
            url = cluster("up", "--dir", str(folder / "cluster"), "--name", name, "--api", str(n),
                          "--media", str(args.media), "--stream", "1", "--shards", "2", "--engines", "auto",
                          env=env).strip().splitlines()[-1]
            if not tokens:
                from clipfeed.cluster.plan import Plan

                started = time.perf_counter()
                plan_env = Plan.load(folder / "cluster").settings_env()
                tokens, clip_ids = seed({**env, **plan_env}, args.clips, args.users)
                print(f"seeded {args.clips} clips and {args.users} users in {time.perf_counter() - started:.0f} s")
                # Warm-up, not measured: every viewer's first page, the models loaded.
                measure(url, plan_requests("mixed", 600, tokens, clip_ids, args.users, random.Random(3)), 60, clip)
            print(f"\n{n} API process(es) behind nginx, {args.seconds:.0f} s per rate\n")
            print("| API processes / load | offered req/s | achieved | p50 ms | p99 ms | p99 ms without the final "
                  "upload PATCH | errors | sustained (all) | sustained (interactive) |")
            print("|---|---:|---:|---:|---:|---:|---:|---|---|", flush=True)
            health, _ = ladder(url, "healthz", [float(r) for r in args.healthz_rates.split(",")], args.seconds,
                               tokens, clip_ids, args.users, clip)
            mixed, rows = ladder(url, "mixed", [float(r) for r in args.mixed_rates.split(",")], args.seconds,
                                 tokens, clip_ids, args.users, clip, judge=args.judge)
            shown = mixed or rows[0]
            print(f"\nper route at {shown['rate']:.0f} req/s offered ({'sustained' if mixed else 'NOT sustained'}):\n")
            print("| route | requests | p50 ms | p99 ms | errors (by status) |")
            print("|---|---:|---:|---:|---:|")
            for label, route in shown["routes"].items():
                by_status = ", ".join(f"{code or 'no answer'}: {n}" for code, n in sorted(route["statuses"].items()))
                print(f"| {label} | {route['n']} | {route['p50']:.1f} | {route['p99']:.1f} | {route['errors']}"
                      f"{f' ({by_status})' if by_status else ''} |")
            summary.append((n, health, mixed))
            cluster("down", "--dir", str(folder / "cluster"), env=env)
    finally:
        if (folder / "cluster" / "cluster.json").exists():
            subprocess.run([CLIPFEED, "cluster", "down", "--purge", "--dir", str(folder / "cluster")], env=env,
                           capture_output=True, timeout=600)
        shutil.rmtree(folder, ignore_errors=True)
    print(f"\nload after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}\n")
    print(f"| API processes | /healthz sustained req/s | mixed sustained req/s (p99 <= 200 ms, {args.judge}) | "
          "mixed / healthz | "
          "mixed vs 1 process |")
    print("|---:|---:|---:|---:|---:|")
    first = summary[0][2]["rate"] if summary and summary[0][2] else None
    for n, health, mixed in summary:
        h = health["rate"] if health else 0.0
        m = mixed["rate"] if mixed else 0.0
        print(f"| {n} | {h:.0f} | {m:.0f} | {m / h if h else 0:.2f} | {m / first if first else 0:.2f}x |")


if __name__ == "__main__":
    main()
