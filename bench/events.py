"""Event ingestion throughput and end-to-end lag, against a raw log append measured in the same run.

    .venv/bin/python bench/events.py [--stacks embedded,jetstream] [--events 100000] [--rate 5000]
                                     [--seconds 20] [--nats nats://127.0.0.1:4222]
                                     [--postgres postgresql://postgres@127.0.0.1:5432] [--redis redis://127.0.0.1:6379]

Per stack (``embedded``: SQLite + embedded log; ``jetstream``: PostgreSQL + NATS JetStream;
both with Redis as the cache, the feature store every process must see):

* baseline: ``append_batch`` of the already-encoded envelopes, 500 per call, to the two activity
  topics (what ingestion cannot beat: the log's own write cost);
* into the log: ``events.service.ingest`` in process (validation, deduplication, enrichment,
  encoding, both appends), batches of 500;
* through the API: ``clipfeed serve`` as a real uvicorn process (no in-process workers), and a
  client process posting prepared batches of 500 with httpx, 8 requests in flight;
* lag: the API plus a ``clipfeed worker stream`` process (the whole stream role, other
  features' processors included); the client posts 250 events every 50 ms (5k/s) and, for one
  event per batch, polls the feature store until the viewer's profile shows that event's ID:
  send-to-visible time, p50 and p99; then again at ``--low-rate`` (1k/s) once the backlog is
  worked off.

Goals (2 cores): >= 20k events/s through the API, >= 100k/s into the embedded log, lag p99 < 2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: tests.services

BIN = Path(sys.executable).parent
BATCH = 500
CLIENTS = 16            # signed-in viewers posting
IN_FLIGHT = 8


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_batch(ts_ms: int, count: int = BATCH, clips: int = 2000) -> list[dict[str, Any]]:
    kinds = ("impression", "play_start", "progress", "complete", "skip")
    out = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        event: dict[str, Any] = {"event_id": uuid.uuid4().hex, "type": kind, "clip_id": str(1 + (i * 7919) % clips),
                                 "ts": ts_ms, "session_id": "bench", "device": "android", "network": "wifi"}
        if kind == "progress":
            event["watch_ms"] = 1000
        elif kind == "skip":
            event["position_ms"] = 1500
        out.append(event)
    return out


# --- the stacks ---------------------------------------------------------------------------

def stack_env(stack: str, args: argparse.Namespace, directory: Path) -> tuple[dict[str, str], list[str]]:
    """Environment for every process of a run, and the clean-up notes (database, prefix)."""
    unique = uuid.uuid4().hex[:8]
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(directory), "CLIPFEED_LOG_JSON": "false",
           "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_INPROCESS_WORKERS": "none",
           "CLIPFEED_EVENTS_RATE_PER_MINUTE": "1000000", "CLIPFEED_CACHE_URL": f"{args.redis}/14?prefix=b{unique}:"}
    if stack == "jetstream":
        import psycopg

        name = f"clipfeed_bench_{unique}"
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        env["CLIPFEED_DATABASE_URL"] = f"{args.postgres}/{name}"
        env["CLIPFEED_LOG_URL"] = f"{args.nats}?prefix=b{unique}"
        return env, [name, f"b{unique}"]
    return env, ["", f"b{unique}"]


async def clean_up(stack: str, args: argparse.Namespace, notes: list[str]) -> None:
    database, prefix = notes
    import redis.asyncio as redis

    client = redis.Redis.from_url(f"{args.redis}/14")
    async for key in client.scan_iter(f"{prefix}:*"):
        await client.delete(key)
    await client.aclose()
    if stack == "jetstream":
        import nats
        import psycopg

        nc = await nats.connect(args.nats)
        js = nc.jetstream()
        for info in await js.streams_info():
            name = info.config.name or ""
            if name.startswith((f"{prefix}_", f"KV_{prefix}")):
                await js.delete_stream(name)
        await nc.close()
        with psycopg.connect(f"{args.postgres}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def settings_from(env: dict[str, str]) -> Any:
    from clipfeed.settings import Settings

    values = {k.removeprefix("CLIPFEED_").lower(): v for k, v in env.items() if k.startswith("CLIPFEED_")}
    return Settings(**values)


# --- in process: raw append (baseline) and ingest -------------------------------------------

async def measure_in_process(env: dict[str, str], total: int) -> dict[str, float]:
    from clipfeed.bootstrap import running
    from clipfeed.core.contract import Topic
    from clipfeed.core.events import SCHEMA_VERSION
    from clipfeed.core.viewers import ViewerId
    from clipfeed.events import service as ingest
    from clipfeed.events.topics import ensure_topics
    from clipfeed.infra.log import OutgoingRecord

    async with running(settings_from(env), relay=False) as services:
        await ensure_topics(services=services)
        now_ms = int(time.time() * 1000)
        batches = [make_batch(now_ms) for _ in range(total // BATCH)]
        viewers = [ViewerId.signed_in(1_000_000 + i) for i in range(CLIENTS)]
        # Baseline: the same envelopes, already encoded, appended to both topics.
        encoded = []
        iso = datetime.fromtimestamp(now_ms / 1000, UTC).isoformat()
        for n, batch in enumerate(batches):
            viewer = viewers[n % CLIENTS]
            clips, users = [], []
            for raw in batch:
                envelope = {"id": ingest.envelope_id(viewer.key, raw["event_id"]), "type": raw["type"],
                            "version": SCHEMA_VERSION, "occurred_at": iso, "key": raw["clip_id"],
                            "actor_id": viewer.user_id, "region": "local", "payload": raw}
                clips.append(OutgoingRecord(orjson.dumps(envelope), key=raw["clip_id"].encode()))
                users.append(OutgoingRecord(orjson.dumps(envelope), key=viewer.key.encode()))
            encoded.append((clips, users))
        started = time.perf_counter()
        for clips, users in encoded:
            await asyncio.gather(services.log.append_batch(Topic.ACTIVITY_CLIPS, clips),
                                 services.log.append_batch(Topic.ACTIVITY_USERS, users))
        baseline = total / (time.perf_counter() - started)
        fresh = [make_batch(now_ms) for _ in range(total // BATCH)]
        started = time.perf_counter()
        for n, batch in enumerate(fresh):
            result = await ingest.ingest(services=services, raw_events=batch, viewer=viewers[n % CLIENTS],
                                         region="local")
            assert result.accepted == len(batch), result
        direct = total / (time.perf_counter() - started)
    return {"baseline": baseline, "direct": direct}


# --- processes ----------------------------------------------------------------------------

def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes]) -> None:
    from tests.services import stop_process

    stop_process(proc, grace=30, sig=signal.SIGINT)  # workers finish their batch


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the server exited early")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(url)


def register(url: str, count: int) -> list[dict[str, Any]]:
    accounts = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for i in range(count):
            handle = f"bench_{uuid.uuid4().hex[:8]}_{i}"
            made = http.post("/v1/auth/register", json={"handle": handle, "email": f"{handle}@example.com",
                                                        "password": "a long bench password"})
            made.raise_for_status()
            body = made.json()
            accounts.append({"id": body["user"]["id"], "token": body["access_token"]})
    return accounts


def run_client(mode: str, url: str, accounts: list[dict[str, Any]], env: dict[str, str],
               args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    spec = directory / f"client-{mode}.json"
    spec.write_text(json.dumps({"mode": mode, "url": url, "accounts": accounts, "events": args.events,
                                "rate": args.rate, "seconds": args.seconds,
                                "cache_url": env["CLIPFEED_CACHE_URL"]}))
    done = subprocess.run([sys.executable, __file__, "--client", str(spec)], env=env, capture_output=True,
                          text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"client failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# --- the client process ---------------------------------------------------------------------

async def client_throughput(spec: dict[str, Any]) -> dict[str, Any]:
    accounts = spec["accounts"]
    now_ms = int(time.time() * 1000)
    bodies = [(accounts[n % len(accounts)]["token"], orjson.dumps({"events": make_batch(now_ms)}))
              for n in range(spec["events"] // BATCH)]
    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    accepted = 0
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=spec["url"], timeout=120, limits=limits) as http:
        async def post_all() -> None:
            nonlocal accepted
            while not queue.empty():
                token, body = queue.get_nowait()
                response = await http.post("/v1/events", content=body, headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                response.raise_for_status()
                accepted += response.json()["accepted"]

        started = time.perf_counter()
        await asyncio.gather(*(post_all() for _ in range(IN_FLIGHT)))
        elapsed = time.perf_counter() - started
    return {"events_per_s": accepted / elapsed, "accepted": accepted, "seconds": elapsed}


async def client_lag(spec: dict[str, Any]) -> dict[str, Any]:
    from clipfeed.events.service import envelope_id
    from clipfeed.infra.cache import open_cache
    from clipfeed.stream.user_features import user_features_key

    accounts = spec["accounts"]
    cache = open_cache(spec["cache_url"])
    per_tick, tick = spec["rate"] // 20, 0.05
    outstanding: dict[int, tuple[str, float]] = {}   # envelope ID -> (viewer, sent at)
    lags: list[float] = []
    sent = 0
    stop_sending = time.monotonic() + spec["seconds"]
    in_flight = asyncio.Semaphore(64)  # a server that cannot keep up shows as a lower rate
    async with httpx.AsyncClient(base_url=spec["url"], timeout=120) as http:
        async def sender() -> None:
            nonlocal sent
            next_at = time.monotonic()
            n = 0
            pending: set[asyncio.Task[None]] = set()
            while time.monotonic() < stop_sending:
                account = accounts[n % len(accounts)]
                batch = make_batch(int(time.time() * 1000), per_tick)
                probe = envelope_id(str(account["id"]), batch[-1]["event_id"])
                outstanding[probe] = (str(account["id"]), time.monotonic())

                async def post(body: bytes = orjson.dumps({"events": batch}), token: str = account["token"]) -> None:
                    try:
                        response = await http.post("/v1/events", content=body, headers={
                            "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                        response.raise_for_status()
                    finally:
                        in_flight.release()

                await in_flight.acquire()
                task = asyncio.create_task(post())
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += per_tick
                n += 1
                next_at += tick
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            await asyncio.gather(*pending)

        async def watcher() -> None:
            deadline = stop_sending + 60
            while (time.monotonic() < stop_sending or outstanding) and time.monotonic() < deadline:
                if outstanding:
                    viewers = sorted({v for v, _ in outstanding.values()})
                    docs = await cache.get_many([user_features_key(v) for v in viewers])
                    applied: set[int] = set()
                    for raw in docs:
                        if raw is not None:
                            applied.update(orjson.loads(raw)["ids"])
                    now = time.monotonic()
                    for probe in [p for p in outstanding if p in applied]:
                        lags.append(now - outstanding.pop(probe)[1])
                await asyncio.sleep(0.01)

        started = time.perf_counter()
        await asyncio.gather(sender(), watcher())
        elapsed = time.perf_counter() - started
    await cache.close()
    lags.sort()
    return {"rate": sent / spec["seconds"], "probes": len(lags), "missing": len(outstanding),
            "p50": statistics.median(lags) if lags else None,
            "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else None, "seconds": elapsed}


# --- one stack, start to end ------------------------------------------------------------------

async def measure_stack(stack: str, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # In-process figures in a deployment of their own, so the workers below start with no backlog.
    directory = Path(tempfile.mkdtemp(prefix=f"clipfeed-bench-{stack}-"))
    env, notes = stack_env(stack, args, directory)
    try:
        subprocess.run([str(BIN / "clipfeed"), "migrate"], env=env, check=True, capture_output=True, timeout=300)
        out.update(await measure_in_process(env, args.events))
    finally:
        await clean_up(stack, args, notes)
        shutil.rmtree(directory, ignore_errors=True)
    directory = Path(tempfile.mkdtemp(prefix=f"clipfeed-bench-{stack}-"))
    env, notes = stack_env(stack, args, directory)
    try:
        subprocess.run([str(BIN / "clipfeed"), "migrate"], env=env, check=True, capture_output=True, timeout=300)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start([str(BIN / "clipfeed"), "serve", "--port", str(port), "--no-migrate"], env,
                       directory / "server.log")
        worker = None
        try:
            wait_healthy(url, server)
            accounts = register(url, CLIENTS)
            worker = start([str(BIN / "clipfeed"), "worker", "stream"], env, directory / "worker.log")
            time.sleep(5)  # joined its groups
            out["lag"] = run_client("lag", url, accounts, env, args, directory)
            await drain(env)
            out["lag_low"] = run_client("lag", url, accounts, env, argparse.Namespace(
                **{**vars(args), "rate": args.low_rate}), directory)
            stop(worker)
            worker = None
            out["api"] = run_client("throughput", url, accounts, env, args, directory)
        finally:
            if worker is not None:
                stop(worker)
            stop(server)
    finally:
        await clean_up(stack, args, notes)
        shutil.rmtree(directory, ignore_errors=True)
    return out


async def drain(env: dict[str, str]) -> None:
    """Wait until the stream worker has worked off the backlog of the previous phase."""
    from clipfeed.bootstrap import running
    from clipfeed.stream.catchup import wait_for_catch_up

    async with running(settings_from(env), relay=False) as services:
        await wait_for_catch_up(services=services, timeout=600, flush_outbox=False)


def report(results: dict[str, dict[str, Any]]) -> None:
    print(f"\nmachine: {os.uname().nodename}, {os.cpu_count()} cores; load {os.getloadavg()}")
    stacks = list(results)
    print(f"\n{'events/s':<58}" + "".join(f"{s:>16}" for s in stacks))
    rows = [("baseline: append_batch of encoded envelopes, 2 topics", "baseline"),
            ("into the log: events.service.ingest in process", "direct"),
            ("through the API: clipfeed serve + httpx client process", "api")]
    for title, name in rows:
        cells = []
        for stack in stacks:
            value = results[stack][name]["events_per_s"] if name == "api" else results[stack][name]
            cells.append(f"{value:>10,.0f} ({value / results[stack]['baseline']:.2f}x)")
        print(f"{title:<58}" + "".join(f"{c:>16}" for c in cells))
    for phase in ("lag", "lag_low"):
        print(f"\n{'lag API -> feature store at a steady rate':<58}" + "".join(f"{s:>16}" for s in stacks))
        for name in ("rate", "p50", "p99", "probes", "missing"):
            cells = []
            for stack in stacks:
                value = results[stack][phase][name]
                cells.append("-" if value is None else (f"{value * 1000:.0f} ms" if name in ("p50", "p99")
                                                        else f"{value:,.0f}"))
            print(f"  {name:<56}" + "".join(f"{c:>16}" for c in cells))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", default="embedded,jetstream")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=5000)
    parser.add_argument("--low-rate", type=int, default=1000, help="a second lag phase below saturation")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        spec = json.loads(Path(args.client).read_text())
        result = await (client_throughput(spec) if spec["mode"] == "throughput" else client_lag(spec))
        print(json.dumps(result))
        return
    results = {}
    for stack in args.stacks.split(","):
        print(f"measuring {stack} ...", flush=True)
        results[stack] = await measure_stack(stack, args)
        print(json.dumps({stack: results[stack]}), flush=True)
    report(results)


if __name__ == "__main__":
    asyncio.run(main())
