"""ActivityPub federation: one post fanned out to thousands of remote followers, and signed
activities taken in through the inbox, each against a baseline from the same run
(docs/benchmarks.md, "Federation", says what each figure means).

    .venv/bin/python bench/federation.py [--quick] [--followers 10000] [--servers 500]
                                         [--actors 300] [--clips 9] [--concurrency 32]
                                         [--database sqlite|postgres] [--only fan-out|inbox]

1. Fan-out, in this process: ``deliveries.to_followers`` of a clip's ``Create`` to ``followers``
   remote followers spread over ``servers`` remote servers, then ``deliveries.deliver_due``
   until the queue is empty; with shared inboxes, then without. The servers are sinks in one
   child process, one loopback address each, that check every signature and count deliveries
   per server (``bench/federation_sinks.py``). Baseline: the same POSTs, unsigned, from one
   httpx client at the same concurrency.
2. Inbox: ``actors`` stored remote accounts each follow the creator and like ``clips`` clips,
   signed beforehand, posted to ``clipfeed serve`` with ``concurrency`` in flight; then the
   ``federation`` worker role applies them. Baseline: as many ``GET /healthz`` of that server.
   Also reported: how many activities the inbox committed together on average (its
   ``clipfeed_federation_inbox_batch_size`` histogram).

The metadata store is SQLite, or a scratch PostgreSQL database (``CLIPFEED_TEST_POSTGRES``);
the event log and cache stay embedded. CPU is user + system time of the process named.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.federation_sinks import Sinks  # noqa: E402
from bench.social import serve, settings_from, stop  # noqa: E402  (the same way of running `clipfeed serve`)

ACTIVITY_JSON = "application/activity+json"
PASSWORD = "a long bench password"


# --- part 1: fan-out ------------------------------------------------------------------------

async def local_creator(services: Any, handle: str) -> int:
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import RegisterRequest

    pair = await accounts.register(db=services.db, outbox=services.outbox, ids=services.ids,
                                   settings=services.settings, request=RegisterRequest(
                                       handle=handle, email=f"{handle}@example.com", password=PASSWORD))
    return int(pair.user.id)


async def remote_accounts(services: Any, servers: list[str], accounts: int, *, public_pems: list[str],
                          rng: random.Random) -> list[tuple[int, str, str, str]]:
    """``accounts`` remote accounts spread evenly over ``servers``, stored as ``remote.store_actor``
    leaves them (a ``users`` row, a ``federation_actors`` row, the server known), in bulk; each
    has one of ``public_pems``. (user ID, URI, key ID, PEM) each, in a random order, as a real
    follower list mixes servers."""
    from clipfeed.accounts.models import User
    from clipfeed.federation.models import RemoteActor, RemoteInstance

    now = datetime.now(UTC)
    actors = []
    for n, user_id in enumerate(services.ids.next_ids(accounts)):
        uri = f"http://{servers[n % len(servers)]}/users/a{n}"
        actors.append((user_id, uri, f"{uri}#main-key", public_pems[n % len(public_pems)]))
    async with services.db.engine.begin() as conn:
        await conn.execute(sa.insert(RemoteInstance.__table__), [
            {"domain": server, "policy": "none", "failures": 0, "first_seen_at": now} for server in servers])
        for start in range(0, accounts, 5000):
            part = [(n, *actor, servers[n % len(servers)]) for n, actor in enumerate(actors[start:start + 5000], start)]
            await conn.execute(sa.insert(User.__table__), [
                {"id": user_id, "handle": f"a{n}@{home}", "email": None, "display_name": f"a{n}", "bio": "",
                 "role": "user", "domain": home, "created_at": now, "updated_at": now}
                for n, user_id, _, _, _, home in part])
            await conn.execute(sa.insert(RemoteActor.__table__), [
                {"user_id": user_id, "uri": uri, "key_id": key_id, "public_pem": pem, "inbox": f"{uri}/inbox",
                 "shared_inbox": f"http://{home}/inbox", "domain": home, "kind": "Person", "fetched_at": now}
                for _, user_id, uri, key_id, pem, home in part])
    rng.shuffle(actors)
    return actors


async def follow_all(services: Any, followers: list[int], followee: int) -> None:
    from clipfeed.social.models import Follow, FollowCount

    async with services.db.engine.begin() as conn:
        for start in range(0, len(followers), 5000):
            await conn.execute(sa.insert(Follow.__table__), [
                {"id": services.ids.next_id(), "follower_id": f, "followee_id": followee,
                 "created_at": datetime.now(UTC)} for f in followers[start:start + 5000]])
        await conn.execute(sa.insert(FollowCount.__table__), [
            {"user_id": followee, "followers": len(followers), "following": 0},
            *({"user_id": f, "followers": 0, "following": 1} for f in followers)])


async def create_activity(services: Any, owner: int) -> dict[str, Any]:
    """The clip's ``Create``, as the federation worker's outbox side builds it on ``clip.ready``."""
    from clipfeed.clips import service as clips
    from clipfeed.clips.models import ClipCreate, ClipStatus
    from clipfeed.federation import documents, publish

    draft = await clips.create_draft(db=services.db, outbox=services.outbox, ids=services.ids, owner_id=owner,
                                     request=ClipCreate(caption="sunset over the bay #beach #evening"))
    clip = await clips.set_status(db=services.db, outbox=services.outbox, clip_id=draft.id, status=ClipStatus.ready)
    uris = publish.uris(services=services)
    video = await publish.video(clip, services=services)
    video.pop("@context", None)
    return documents.activity(uris, kind="Create", event_id=services.ids.next_id(), actor=uris.actor(owner),
                              object=video, to=video["to"], cc=video["cc"])


async def signed_fan_out(services: Any, sinks: Sinks, owner: int, activity: dict[str, Any]) -> dict[str, Any]:
    from clipfeed.federation import deliveries

    started, cpu = time.monotonic(), time.process_time()
    queued = await deliveries.to_followers(owner, activity, services=services)
    enqueued = time.monotonic()
    while await deliveries.deliver_due(services=services):
        pass
    ended = time.monotonic()
    return {"queued": queued, "left": await deliveries.queue_depth(services=services), "started": started,
            "enqueue_s": enqueued - started, "seconds": ended - started, "cpu": time.process_time() - cpu,
            "sinks": sinks.stats()}


async def plain_posts(targets: dict[str, str], body: bytes, sinks: Sinks, settings: Any) -> dict[str, Any]:
    """The baseline: the same inboxes and body, unsigned, one httpx client, the same limits."""
    limits = httpx.Limits(max_connections=settings.federation_delivery_concurrency * 2,
                          max_keepalive_connections=settings.federation_delivery_concurrency)
    overall = asyncio.Semaphore(settings.federation_delivery_concurrency)
    per_server: dict[str, asyncio.Semaphore] = defaultdict(
        lambda: asyncio.Semaphore(settings.federation_per_instance_concurrency))
    statuses: Counter[int] = Counter()
    started, cpu = time.monotonic(), time.process_time()
    async with httpx.AsyncClient(timeout=settings.federation_request_timeout_s, limits=limits,
                                 follow_redirects=False) as client:
        async def one(inbox: str, server: str) -> None:
            async with overall, per_server[server]:
                statuses[(await client.post(inbox, content=body, headers={"Content-Type": ACTIVITY_JSON})
                          ).status_code] += 1

        await asyncio.gather(*(one(inbox, server) for inbox, server in targets.items()))
    ended = time.monotonic()
    return {"queued": len(targets), "left": len(targets) - statuses[202], "started": started, "enqueue_s": 0.0,
            "seconds": ended - started, "cpu": time.process_time() - cpu, "sinks": sinks.stats()}


async def fan_out_part(sinks: Sinks, followers: int, servers: int, database: str | None) -> dict[str, dict[str, Any]]:
    import clipfeed.schema  # noqa: F401  (every table, for the ORM's foreign keys)
    from clipfeed.bootstrap import bootstrap
    from clipfeed.federation import deliveries, keys
    from clipfeed.federation.models import RemoteActor
    from clipfeed.infra.db.migrate import upgrade
    from clipfeed.settings import Settings

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="clipfeed-bench-federation-") as tmp:
        settings = Settings(data_dir=Path(tmp), log_json=False, log_level="WARNING", inprocess_workers="none",
                            federation_allow_http=True, public_url="http://127.0.0.1:9",
                            **({"database_url": database} if database else {}))
        upgrade(settings.resolve(settings.database_url))
        services = await bootstrap(settings, relay=False)
        try:
            owner = await local_creator(services, "creator")
            signer = await keys.signer_for(owner, services=services)  # made when its actor was first fetched
            started = time.perf_counter()
            ids = [actor[0] for actor in await remote_accounts(
                services, sinks.names[:servers], followers, public_pems=[signer.public_pem], rng=random.Random(7))]
            await follow_all(services, ids, owner)
            print(f"fan-out set-up: {followers:,} remote followers on {servers} servers in "
                  f"{time.perf_counter() - started:.1f} s")
            for shared in (True, False):
                if not shared:
                    async with services.db.session() as session:
                        await session.execute(sa.update(RemoteActor).values(shared_inbox=None))
                name = "shared inboxes" if shared else "personal inboxes"
                activity = await create_activity(services, owner)
                body = json.dumps(activity, ensure_ascii=False, separators=(",", ":")).encode()
                targets = await deliveries.inboxes_of(ids, services=services)
                sinks.reset(None)
                results[f"{name}: unsigned POSTs, one httpx client (baseline)"] = await plain_posts(
                    targets, body, sinks, settings)
                sinks.reset(signer.public_pem)
                results[f"{name}: to_followers + deliver_due, signed"] = await signed_fan_out(
                    services, sinks, owner, activity)
        finally:
            await services.close()
    return results


# --- part 2: inbox --------------------------------------------------------------------------

async def inbox_setup(env: dict[str, str], sinks: Sinks, *, actors_wanted: int, clips: int,
                      servers: int) -> dict[str, Any]:
    """The local creator and clips, and ``actors`` remote accounts (sharing a few keys: signing
    is the senders' cost, and a key per account would only slow the set-up)."""
    from clipfeed.bootstrap import bootstrap
    from clipfeed.clips.models import Clip
    from clipfeed.federation import keys
    from clipfeed.federation.signatures import generate_key_pair, load_private_key
    from clipfeed.infra.db.migrate import upgrade

    settings = settings_from(env)
    upgrade(settings.resolve(settings.database_url))
    services = await bootstrap(settings, relay=False)
    try:
        owner = await local_creator(services, "host")
        public_pem = (await keys.signer_for(owner, services=services)).public_pem
        # Clip rows without their events: the worker's outbox side would otherwise send each
        # clip's Create to whichever followers it had applied by then.
        clip_ids = services.ids.next_ids(clips)
        async with services.db.engine.begin() as conn:
            await conn.execute(sa.insert(Clip.__table__), [
                {"id": clip_id, "owner_id": owner, "caption": f"clip {n}", "hashtags": [], "visibility": "public",
                 "status": "ready", "media": {}, "duration_ms": 15_000, "created_at": datetime.now(UTC),
                 "updated_at": datetime.now(UTC), "published_at": datetime.now(UTC)}
                for n, clip_id in enumerate(clip_ids)])
        pairs = dict(generate_key_pair() for _ in range(4))  # private PEM -> public PEM
        rng = random.Random(11)
        actors = await remote_accounts(services, sinks.names[:servers], actors_wanted, public_pems=list(pairs.values()),
                                       rng=rng)
    finally:
        await services.close()
    keys_of = {public: load_private_key(private) for private, public in pairs.items()}
    return {"owner": owner, "public_pem": public_pem, "clip_ids": clip_ids, "rng": rng,
            "signers": [(uri, key_id, keys_of[pem]) for _, uri, key_id, pem in actors]}


Request = tuple[str, dict[str, str], bytes | None]  # path, headers, body (None: a GET)


def signed_requests(base: str, setup: dict[str, Any]) -> list[Request]:
    """Every account follows the creator (its inbox) and likes every clip (the shared inbox)."""
    from clipfeed.federation.signatures import sign_request

    owner_uri = f"{base}/ap/users/{setup['owner']}"
    requests: list[Request] = []
    for uri, key_id, private_key in setup["signers"]:
        activities = [(f"/ap/users/{setup['owner']}/inbox",
                       {"id": f"{uri}/follows/1", "type": "Follow", "actor": uri, "object": owner_uri})]
        activities += [("/ap/inbox", {"id": f"{uri}/likes/{clip_id}", "type": "Like", "actor": uri,
                                      "object": f"{base}/ap/clips/{clip_id}"}) for clip_id in setup["clip_ids"]]
        for path, activity in activities:
            body = json.dumps({"@context": "https://www.w3.org/ns/activitystreams", **activity}).encode()
            headers = sign_request(method="POST", url=f"{base}{path}", body=body, key_id=key_id,
                                   private_key=private_key, headers={"Content-Type": ACTIVITY_JSON})
            requests.append((path, headers, body))
    setup["rng"].shuffle(requests)
    return requests


async def send_all(base: str, requests: list[Request], concurrency: int) -> dict[str, Any]:
    """Closed loop: ``concurrency`` connections, each sending its next request when answered.
    A 503 (the server shedding load: nothing was done) is sent again, as a peer would."""
    import aiohttp

    statuses: Counter[int] = Counter()
    shed = 0
    waiting = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    started, cpu = time.perf_counter(), time.process_time()
    async with aiohttp.ClientSession(base, connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as http:
        async def connection() -> None:
            nonlocal shed
            for path, headers, body in waiting:
                while True:
                    async with http.request("POST" if body is not None else "GET", path, data=body,
                                            headers=headers) as response:
                        await response.read()
                    if response.status != 503:
                        break
                    shed += 1
                statuses[response.status] += 1

        await asyncio.gather(*(connection() for _ in range(concurrency)))
    return {"seconds": time.perf_counter() - started, "cpu": time.process_time() - cpu,
            "statuses": dict(statuses), "shed": shed}


async def apply_all(env: dict[str, str], sinks: Sinks, setup: dict[str, Any], actors: int) -> dict[str, Any]:
    """The ``federation`` role in this process until every follow and like is there, then until
    every ``Accept`` reached its server."""
    from clipfeed.bootstrap import bootstrap
    from clipfeed.social.models import Follow, Like
    from clipfeed.workers import run_role

    likes_wanted = actors * len(setup["clip_ids"])
    services = await bootstrap(settings_from(env))
    stop_role = asyncio.Event()
    try:
        sinks.reset(setup["public_pem"])
        started, cpu = time.perf_counter(), time.process_time()
        role = asyncio.create_task(run_role("federation", stop_role, services=services))
        applied = accepted = None
        deadline = started + 1800
        while time.perf_counter() < deadline and accepted is None:
            await asyncio.sleep(0.1)
            if applied is None:
                async with services.db.session() as session:
                    follows = await session.scalar(sa.select(sa.func.count()).select_from(Follow).where(
                        Follow.followee_id == setup["owner"]))
                    likes = await session.scalar(sa.select(sa.func.count()).select_from(Like).where(
                        Like.clip_id.in_(setup["clip_ids"])))
                if follows == actors and likes == likes_wanted:
                    applied = (time.perf_counter() - started, time.process_time() - cpu)
            elif sum(sinks.stats()["counts"].values()) >= actors:
                accepted = time.perf_counter() - started
        stop_role.set()
        await role
    finally:
        await services.close()
    stats = sinks.stats()
    return {"applied_s": applied[0] if applied else None, "applied_cpu": applied[1] if applied else None,
            "accepted_s": accepted, "accepts": sum(stats["counts"].values()), "bad": stats["bad"]}


def inbox_commits(base: str) -> tuple[float, float]:
    """(activities, commits) of the inbox's group commit so far, from the server's metrics."""
    found = dict.fromkeys(("sum", "count"), 0.0)
    for line in httpx.get(f"{base}/metrics").text.splitlines():
        for part in found:
            if line.startswith(f"clipfeed_federation_inbox_batch_size_{part} "):
                found[part] = float(line.split()[1])
    return found["sum"], found["count"]


def server_cpu(pid: int) -> float:
    import psutil

    return sum(psutil.Process(pid).cpu_times()[:2])  # user + system


async def inbox_part(sinks: Sinks, *, actors: int, clips: int, servers: int, concurrency: int,
                     database: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="clipfeed-bench-federation-inbox-") as tmp:
        directory = Path(tmp)
        env = {**os.environ, "CLIPFEED_DATA_DIR": str(directory), "CLIPFEED_LOG_JSON": "false",
               "CLIPFEED_LOG_LEVEL": "WARNING", "CLIPFEED_INPROCESS_WORKERS": "none", "CLIPFEED_CACHE_URL": "memory://",
               "CLIPFEED_FEDERATION_ALLOW_HTTP": "true"}
        if database:
            env["CLIPFEED_DATABASE_URL"] = database
        setup = await inbox_setup(env, sinks, actors_wanted=actors, clips=clips, servers=min(servers, actors))
        proc, base = serve(env, directory)
        env["CLIPFEED_PORT"] = base.rsplit(":", 1)[1]  # our URIs name the server's address
        results: dict[str, Any] = {}
        try:
            started = time.perf_counter()
            requests = signed_requests(base, setup)
            print(f"inbox set-up: {actors} remote accounts, {len(requests):,} activities signed in "
                  f"{time.perf_counter() - started:.1f} s")
            healthz: list[Request] = [("/healthz", {}, None)]
            # Warm up connections and routes: the first request to a route builds FastAPI's
            # route tables (about a second, once a process); unsigned POSTs are refused (401)
            # before anything is stored.
            await send_all(base, healthz * 200, concurrency)
            await send_all(base, [(path, {"Content-Type": ACTIVITY_JSON}, body) for path, _, body in requests[:50]],
                           concurrency)
            for name, batch in (("GET /healthz (baseline)", healthz * len(requests)),
                                ("POST signed Follow/Like to the inboxes", requests)):
                before = server_cpu(proc.pid)
                results[name] = await send_all(base, batch, concurrency) | {
                    "server_cpu": server_cpu(proc.pid) - before, "requests": len(batch)}
            results["commits"] = inbox_commits(base)
        finally:
            stop(proc)
        results["apply"] = await apply_all(env, sinks, setup, actors)
        results["apply"]["requests"] = len(requests)
    return results


# --- report ---------------------------------------------------------------------------------

def report_fan_out(results: dict[str, dict[str, Any]], servers: int) -> None:
    print("\n### Fan-out of one post\n")
    print("| run | deliveries | failed/left | wall s | deliveries/s | every server has it (s) | vs baseline "
          "| sender CPU ms/delivery | sink CPU ms/delivery |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    baseline: dict[str, Any] = {}
    for name, r in results.items():
        delivered = sum(r["sinks"]["counts"].values())
        reached = len(r["sinks"]["counts"])
        everyone = max(r["sinks"]["first"].values()) - r["started"] if reached == servers else float("nan")
        if "baseline" in name:
            baseline = r
        ratio = r["seconds"] / baseline["seconds"]
        print(f"| {name} | {delivered:,} | {r['left'] + r['sinks']['bad']} | {r['seconds']:.2f} "
              f"| {delivered / r['seconds']:,.0f} | {everyone:.2f} ({reached} servers) | {ratio:.2f}x wall "
              f"| {r['cpu'] / max(delivered, 1) * 1000:.2f} | {r['sinks']['cpu'] / max(delivered, 1) * 1000:.2f} |")
        if "enqueue_s" in r and r["enqueue_s"]:
            print(f"|   of which to_followers (queueing {r['queued']:,} rows) | | | {r['enqueue_s']:.2f} | | | | | |")


def report_inbox(results: dict[str, Any], concurrency: int) -> None:
    print(f"\n### Inbox ({concurrency} requests in flight, one server process)\n")
    print("| requests | n | answers | shed (503, sent again) | req/s | vs /healthz | server CPU ms/req "
          "| client CPU ms/req |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    base = results["GET /healthz (baseline)"]
    for name in ("GET /healthz (baseline)", "POST signed Follow/Like to the inboxes"):
        r = results[name]
        rate = r["requests"] / r["seconds"]
        print(f"| {name} | {r['requests']:,} | {r['statuses']} | {r['shed']} | {rate:,.0f} "
              f"| {rate / (base['requests'] / base['seconds']):.3f}x | {r['server_cpu'] / r['requests'] * 1000:.2f} "
              f"| {r['cpu'] / r['requests'] * 1000:.2f} |")
    activities, commits = results["commits"]
    print(f"\ninbox commits: {commits:,.0f} for {activities:,.0f} activities ({activities / max(commits, 1):.1f} each)")
    a = results["apply"]
    if a["applied_s"] is None:
        print("\nThe worker did not apply everything within the time allowed.")
        return
    print(f"\nfederation worker (one process): {a['requests']:,} activities applied in {a['applied_s']:.1f} s = "
          f"{a['requests'] / a['applied_s']:,.0f}/s, {a['applied_cpu'] / a['requests'] * 1000:.2f} ms CPU each; "
          f"{a['accepts']:,} Accepts delivered (signatures bad: {a['bad']}) "
          + (f"in {a['accepted_s']:.1f} s" if a["accepted_s"] else "(not all)"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 followers on 50 servers, "
                        "40 accounts liking 4 clips")
    parser.add_argument("--followers", type=int, default=10_000)
    parser.add_argument("--servers", type=int, default=500)
    parser.add_argument("--actors", type=int, default=300, help="remote accounts posting to the inbox")
    parser.add_argument("--clips", type=int, default=9, help="clips each account likes (plus one follow)")
    parser.add_argument("--concurrency", type=int, default=32, help="inbox requests in flight")
    parser.add_argument("--only", choices=["fan-out", "inbox"], help="run one part")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite", help="metadata store")
    args = parser.parse_args()
    if args.quick:
        args.followers, args.servers, args.actors, args.clips = 1000, 50, 40, 4
    from clipfeed.logs import configure

    configure("WARNING", json=False)
    from tests.services import postgres_database, postgres_server

    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load: {os.getloadavg()}; metadata store: {args.database}")
    sinks = Sinks(max(args.servers, 10))
    try:
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(postgres_server()) if args.database == "postgres" else None
            if args.only != "inbox":
                database = stack.enter_context(postgres_database(server)) if server else None
                report_fan_out(asyncio.run(fan_out_part(sinks, args.followers, args.servers, database)),
                               args.servers)
            if args.only != "fan-out":
                database = stack.enter_context(postgres_database(server)) if server else None
                report_inbox(asyncio.run(inbox_part(sinks, actors=args.actors, clips=args.clips, servers=10,
                                                    concurrency=args.concurrency, database=database)),
                             args.concurrency)
    finally:
        sinks.close()
    print(f"\nload at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
