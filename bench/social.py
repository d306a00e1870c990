"""Social writes under load, and the cost of telling 100k followers about a new clip.

    .venv/bin/python bench/social.py [--stack embedded|real|both] [--seconds 10] [--concurrency 32]
                                     [--followers 100000] [--postgres URL] [--redis URL] [--nats URL]

1. Writes through HTTP: ``clipfeed serve`` as a real process (no in-process workers: in
   production the stream role runs elsewhere), and this process as the client, ``concurrency``
   requests in flight on keep-alive connections, one signed-in user per connection, for
   ``seconds`` per operation. Operations: ``PUT /v1/clips/{id}/like`` (each a new like) and
   ``POST /v1/clips/{id}/comments``. Baselines in the same run: ``GET /healthz`` (HTTP stack only)
   and ``GET /v1/me`` (token check: one database read).
2. Fan-out in this process, on the same engines: a creator with ``followers`` followers posts.
   * pure fan-out on write: one inbox row per follower plus its live event
     (``notifications.worker.fan_out_on_write``);
   * hybrid (threshold 10,000): one announcement row at post time, then each follower's next
     inbox read merges it (``notifications.service.pull_on_read``), timed for a sample of
     followers (first read, and a later read once the announcement has settled) against
     readers who follow no big creator.
   * follower count of that creator: ``COUNT(*)`` over the indexed ``follows`` rows against the
     counter row (the choice made for exact counts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
CLIPFEED = str(Path(sys.executable).parent / "clipfeed")
CLIPS = 400


# --- engines ------------------------------------------------------------------------------

def stack_env(stack: str, args: argparse.Namespace, directory: Path) -> dict[str, str]:
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(directory), "CLIPFEED_LOG_JSON": "false",
           "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_INPROCESS_WORKERS": "none",
           "CLIPFEED_REGISTER_RATE_PER_HOUR": "1000000", "CLIPFEED_SOCIAL_WRITE_RATE_PER_MINUTE": "100000000",
           "CLIPFEED_SOCIAL_COMMENT_RATE_PER_MINUTE": "100000000", "CLIPFEED_SOCIAL_COMMENT_RATE_PER_DAY": "100000000"}
    if stack == "embedded":
        env["CLIPFEED_CACHE_URL"] = "memory://"
        return env
    import psycopg

    unique = uuid.uuid4().hex[:8]
    name = f"clipfeed_bench_social_{unique}"
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env.update(CLIPFEED_DATABASE_URL=f"{args.postgres}/{name}", CLIPFEED_LOG_URL=f"{args.nats}?prefix=bs{unique}",
               CLIPFEED_CACHE_URL=f"{args.redis}/14?prefix=bs{unique}:")
    return env


async def clean_up(stack: str, args: argparse.Namespace, env: dict[str, str]) -> None:
    if stack == "embedded":
        return
    import nats
    import psycopg
    import redis.asyncio as redis

    prefix = env["CLIPFEED_LOG_URL"].rsplit("prefix=", 1)[1]
    client = redis.Redis.from_url(f"{args.redis}/14")
    async for key in client.scan_iter(f"{prefix}:*"):
        await client.delete(key)
    await client.aclose()
    nc = await nats.connect(args.nats)
    js = nc.jetstream()
    for info in await js.streams_info():
        if (info.config.name or "").startswith(f"{prefix}_"):
            await js.delete_stream(info.config.name)
    await nc.close()
    with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{env["CLIPFEED_DATABASE_URL"].rsplit("/", 1)[1]}" WITH (FORCE)')


def settings_from(env: dict[str, str]) -> Any:
    import clipfeed.schema  # noqa: F401  (every table, for the ORM's foreign keys)
    from clipfeed.settings import Settings

    return Settings(**{k.removeprefix("CLIPFEED_").lower(): v for k, v in env.items() if k.startswith("CLIPFEED_")})


def serve(env: dict[str, str], directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    from tests.services import free_port

    if env.get("CLIPFEED_DATABASE_URL"):  # PostgreSQL: migrate first (SQLite migrates on serve)
        subprocess.run([CLIPFEED, "migrate"], env=env, check=True, capture_output=True, timeout=300)
    port = free_port()
    log = (directory / "serve.log").open("ab")
    proc = subprocess.Popen([CLIPFEED, "serve", "--port", str(port)], env={**env, "CLIPFEED_PORT": str(port)},
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((directory / "serve.log").read_text()[-3000:])
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        time.sleep(0.2)
    raise TimeoutError(url)


def stop(proc: subprocess.Popen[bytes]) -> None:
    from tests.services import stop_process

    stop_process(proc, grace=30, sig=signal.SIGINT)  # workers finish their batch


# --- part 1: writes through HTTP ----------------------------------------------------------

async def prepare(url: str, env: dict[str, str], users: int) -> tuple[list[str], list[int]]:
    from clipfeed.bootstrap import running
    from clipfeed.clips import service as clips
    from clipfeed.clips.models import ClipStatus

    tokens = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        for n in range(users):
            made = await http.post("/v1/auth/register", json={
                "handle": f"bench{n:03d}", "email": f"bench{n}@example.com", "password": "a long bench password"})
            made.raise_for_status()
            tokens.append(made.json()["access_token"])
        creator = {"Authorization": f"Bearer {tokens[0]}"}
        clip_ids = [int((await http.post("/v1/clips", headers=creator, json={"caption": f"bench {n}"})).json()["id"])
                    for n in range(CLIPS)]
    async with running(settings_from(env), relay=True) as services:
        for clip_id in clip_ids:
            await clips.set_status(db=services.db, outbox=services.outbox, clip_id=clip_id, status=ClipStatus.ready)
        await services.outbox.flush()
    return tokens, clip_ids


async def load(url: str, tokens: list[str], seconds: float,
               request: Callable[[httpx.AsyncClient, int, int], Awaitable[httpx.Response]]) -> dict[str, float]:
    """Each token drives one connection in a loop; returns throughput and latency figures."""
    latencies: list[float] = []
    failures = 0
    stop_at = time.perf_counter() + seconds

    async def worker(slot: int) -> None:
        nonlocal failures
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits,
                                     headers={"Authorization": f"Bearer {tokens[slot]}"}) as http:
            n = 0
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                reply = await request(http, slot, n)
                if reply.status_code >= 400:
                    failures += 1
                latencies.append(time.perf_counter() - started)
                n += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(slot) for slot in range(len(tokens))))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50": latencies[len(latencies) // 2] * 1000,
            "p99": latencies[int(len(latencies) * 0.99)] * 1000, "n": len(latencies), "failed": failures}


async def http_part(url: str, tokens: list[str], clip_ids: list[int], seconds: float) -> dict[str, dict[str, float]]:
    async def healthz(http: httpx.AsyncClient, slot: int, n: int) -> httpx.Response:
        return await http.get("/healthz")

    async def me(http: httpx.AsyncClient, slot: int, n: int) -> httpx.Response:
        return await http.get("/v1/me")

    async def like(http: httpx.AsyncClient, slot: int, n: int) -> httpx.Response:
        # A new like every time while clips last, then likes again (idempotent, no new row).
        return await http.put(f"/v1/clips/{clip_ids[n % len(clip_ids)]}/like")

    async def comment(http: httpx.AsyncClient, slot: int, n: int) -> httpx.Response:
        return await http.post(f"/v1/clips/{clip_ids[(slot * 7 + n) % len(clip_ids)]}/comments",
                               json={"body": f"bench comment {slot}-{n}, nice clip"})

    results = {}
    await load(url, tokens, 1.0, healthz)  # warm up connections and the server
    for name, request in (("GET /healthz (baseline)", healthz), ("GET /v1/me (baseline)", me),
                          ("PUT like", like), ("POST comment", comment)):
        results[name] = await load(url, tokens, seconds, request)
    return results


# --- part 2: fan-out ----------------------------------------------------------------------

async def fan_out_part(env: dict[str, str], followers: int, sample: int) -> dict[str, float]:
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import RegisterRequest
    from clipfeed.bootstrap import running
    from clipfeed.clips import service as clips
    from clipfeed.clips.models import ClipCreate, ClipStatus
    from clipfeed.infra.db import utcnow
    from clipfeed.notifications import service as notifications
    from clipfeed.notifications.worker import fan_out_new_clip, fan_out_on_write
    from clipfeed.social.models import Follow, FollowCount

    out: dict[str, float] = {}
    async with running(settings_from(env), relay=True) as services:
        pair = await accounts.register(db=services.db, outbox=services.outbox, ids=services.ids,
                                       settings=services.settings, request=RegisterRequest(
                                           handle="bigstar", email="bigstar@example.com",
                                           password="a long bench password"))
        creator = int(pair.user.id)
        fans = services.ids.next_ids(followers)
        loners = services.ids.next_ids(sample)
        earlier = datetime(2025, 1, 1, tzinfo=UTC)
        async with services.db.session() as session:
            for start in range(0, followers, 10_000):
                await session.execute(sa.insert(Follow), [
                    {"follower_id": f, "followee_id": creator, "id": services.ids.next_id(), "created_at": earlier}
                    for f in fans[start:start + 10_000]])
            await session.execute(sa.insert(FollowCount), [{"user_id": creator, "followers": followers,
                                                            "following": 0}])

        async def timed_reads(query: sa.Select[Any], reps: int = 50) -> float:
            started = time.perf_counter()
            for _ in range(reps):
                async with services.db.session() as session:
                    await session.scalar(query)
            return (time.perf_counter() - started) / reps * 1000

        out["count_ms"] = await timed_reads(sa.select(sa.func.count()).select_from(Follow).where(
            Follow.followee_id == creator))
        out["counter_ms"] = await timed_reads(sa.select(FollowCount.followers).where(FollowCount.user_id == creator))

        async def new_clip() -> int:
            clip = await clips.create_draft(db=services.db, outbox=services.outbox, ids=services.ids,
                                            owner_id=creator, request=ClipCreate(caption="new"))
            await clips.set_status(db=services.db, outbox=services.outbox, clip_id=clip.id, status=ClipStatus.ready)
            return clip.id

        first = await new_clip()
        started = time.perf_counter()
        written = await fan_out_on_write(owner_id=creator, clip_id=first, posted_at=utcnow(), services=services)
        out["pure_s"] = time.perf_counter() - started
        assert written == followers, written
        second = await new_clip()
        services.settings.notifications_fanout_threshold = min(10_000, followers // 2)
        started = time.perf_counter()
        assert await fan_out_new_clip(owner_id=creator, clip_id=second, posted_at=utcnow(), services=services) == 0
        out["hybrid_post_s"] = time.perf_counter() - started

        async def mean_pull(users: list[int], expect: int) -> float:
            started = time.perf_counter()
            for user in users:
                assert await notifications.pull_on_read(services=services, user_id=user) == expect
            return (time.perf_counter() - started) / len(users) * 1000

        out["pull_first_ms"] = await mean_pull(fans[:sample], 1)
        await asyncio.sleep(notifications.SETTLE.total_seconds() + 0.5)
        await mean_pull(fans[:sample], 0)  # past the settle window: the marks move on
        out["pull_again_ms"] = await mean_pull(fans[:sample], 0)
        out["pull_none_ms"] = await mean_pull(loners, 0)
    return out


# --- report -------------------------------------------------------------------------------

def report(stack: str, writes: dict[str, dict[str, float]], fan: dict[str, float], followers: int) -> None:
    base = writes["GET /v1/me (baseline)"]
    print(f"\n### {stack}\n")
    print("| operation | req/s | p50 ms | p99 ms | req/s vs GET /v1/me | p99 vs GET /v1/me | requests | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in writes.items():
        print(f"| {name} | {r['rps']:,.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['rps'] / base['rps']:.2f}x "
              f"| {r['p99'] / base['p99']:.2f}x | {r['n']:,.0f} | {r['failed']:.0f} |")
    extra = fan["pull_first_ms"] - fan["pull_none_ms"]
    everyone = fan["hybrid_post_s"] + followers * fan["pull_first_ms"] / 1000
    print(f"\n| fan-out of one new clip to {followers:,} followers | value | vs pure fan-out on write |")
    print("|---|---:|---:|")
    print(f"| pure fan-out on write: rows + live events (baseline) | {fan['pure_s']:.2f} s | 1.00x |")
    print(f"| hybrid, at post time (one announcement) | {fan['hybrid_post_s'] * 1000:.1f} ms "
          f"| {fan['hybrid_post_s'] / fan['pure_s']:.5f}x |")
    print(f"| hybrid, first inbox read of a follower (merges the clip) | {fan['pull_first_ms']:.2f} ms | |")
    print(f"| hybrid, a later read of that follower (nothing new) | {fan['pull_again_ms']:.2f} ms | |")
    print(f"| on-read check of a user who follows no big creator | {fan['pull_none_ms']:.2f} ms | |")
    print(f"| hybrid total if every follower reads once | {everyone:.2f} s | {everyone / fan['pure_s']:.2f}x |")
    tenth = fan["hybrid_post_s"] + followers * 0.1 * fan["pull_first_ms"] / 1000
    print(f"| hybrid total if 10% read (a typical day) | {tenth:.2f} s | {tenth / fan['pure_s']:.2f}x |")
    print(f"\nExtra per read for a follower: {extra:.2f} ms. Follower count of that creator: "
          f"COUNT(*) {fan['count_ms']:.2f} ms vs counter row {fan['counter_ms']:.2f} ms "
          f"({fan['count_ms'] / fan['counter_ms']:.0f}x).")


async def run_stack(stack: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="clipfeed-bench-social-") as tmp:
        directory = Path(tmp)
        env = stack_env(stack, args, directory)
        try:
            proc, url = serve(env, directory)
            try:
                tokens, clip_ids = await prepare(url, env, args.concurrency)
                writes = await http_part(url, tokens, clip_ids, args.seconds)
            finally:
                stop(proc)
            fan = await fan_out_part(env, args.followers, args.sample)
            report(stack, writes, fan, args.followers)
        finally:
            await clean_up(stack, args, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", choices=["embedded", "real", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--followers", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=1000, help="followers whose first read is timed")
    parser.add_argument("--postgres", default=os.environ.get("CLIPFEED_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument("--redis", default=os.environ.get("CLIPFEED_TEST_REDIS", "redis://127.0.0.1:6379"))
    parser.add_argument("--nats", default=os.environ.get("CLIPFEED_TEST_NATS", "nats://127.0.0.1:4222"))
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load: {os.getloadavg()}")
    for stack in (["embedded", "real"] if args.stack == "both" else [args.stack]):
        asyncio.run(run_stack(stack, args))
    print(f"\nload at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
