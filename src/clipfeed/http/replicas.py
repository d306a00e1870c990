"""Read-your-writes with read replicas (``clipfeed.infra.db.replicas``), at the HTTP edge.

Each request gets a ``Reads`` state. A route that tolerates stale reads says so with the
``StaleReadsOk`` dependency; its reads may then go to a replica. When a request wrote to a
primary that has replicas (the main database, a shard database), that primary's WAL position
is stored before the response starts, under a key made from the caller's credentials (a hash
of the bearer token, never the token) and the database's name, for as long as a replica may
take to catch up; the caller's next requests read a replica of that database only once it has
replayed that far, so a client always sees its own writes, whichever process answers.

With the cache unreachable the position cannot be stored or read: the caller's reads then go
to the primary (``load`` says "unknown" as "ahead"), so nothing stale is shown, at the cost
of the replicas' relief.

This process also keeps the positions it recorded, for as long: when the cache could not take
one (down, or slow past its timeout), the writer's next request to this process still reads
its write; only one served by another process then depends on the cache.

While the primary does not answer, a stale-tolerant read is served by a replica however far
behind (``ReplicaSet.choose``), and its response says so: ``Clipfeed-Stale:
primary-unreachable;up-to=37`` (a Structured Field: at most that many seconds stale).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time

import structlog
from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clipfeed.http.deps import bearer_token
from clipfeed.infra.db.replicas import CHECK_EVERY_S, CURRENT, Reads, ReplicaSet
from clipfeed.runtime.services import Services

log = structlog.get_logger("clipfeed.replicas")
# Far past any position: read the primary.
AHEAD = 1 << 62
STALE_HEADER = b"clipfeed-stale"
# position key -> (position, until when, monotonic): the positions this process recorded.
_RECENT: dict[str, tuple[int, float]] = {}
RECENT_MAX = 20_000


def _writer(scope: Scope) -> str | None:
    """Who writes, for the position key: a hash of the access token (``deps.bearer_token``)."""
    token = bearer_token(Request(scope))
    return hashlib.blake2b(token.encode(), digest_size=12).hexdigest() if token else None


def _key(writer: str, database: str) -> str:
    # The main database's key is the one versions before shard replicas used.
    return f"db:written:{writer}" if database == "main" else f"db:written:{writer}:{database}"


class ReadYourWrites:
    """Plain ASGI, so streamed bodies pass through; installed only when replicas are set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services | None = getattr(scope["app"].state, "services", None) if "app" in scope else None
        if scope["type"] != "http" or services is None or not services.db.replica_sets:
            await self.app(scope, receive, send)
            return
        writer = _writer(scope)
        reads = Reads(load_writer_lsn=(lambda database: _load(_key(writer, database), services=services))
                      if writer else None)
        token = CURRENT.set(reads)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                if reads.wrote and writer is not None:
                    await _remember(writer, reads.written, services=services)
                if reads.stale_up_to_s is not None:
                    stale = f"primary-unreachable;up-to={math.ceil(reads.stale_up_to_s)}".encode()
                    message = {**message, "headers": [*message.get("headers", []), (STALE_HEADER, stale)]}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            CURRENT.reset(token)


async def _load(key: str, *, services: Services) -> int | None:
    kept = _RECENT.get(key)
    local = kept[0] if kept is not None and kept[1] > time.monotonic() else None
    try:
        raw = await services.cache.get(key)
    except Exception as exc:  # noqa: BLE001 - any cache failure: assume the caller just wrote
        log.warning("cannot read the caller's last write position; reading the primary", error=str(exc)[:200])
        return AHEAD if local is None else local
    shared = int(raw) if raw is not None else None
    return max((p for p in (local, shared) if p is not None), default=None)


async def _remember(writer: str, written: set[str], *, services: Services) -> None:
    """The position of each primary the request wrote to that has replicas, at once."""
    sets = services.db.replica_sets
    await asyncio.gather(*(_remember_one(_key(writer, database), sets[database], services=services)
                           for database in sorted(written) if database in sets))


async def _remember_one(key: str, replicas: ReplicaSet, *, services: Services) -> None:
    # Once a replica is within max lag of this position it has it: keep the mark a little longer.
    ttl = replicas.max_lag_s + 3 * CHECK_EVERY_S
    try:
        position = await replicas.position()
    except Exception as exc:  # noqa: BLE001 - the write is done: its read-back goes to the primary
        log.warning("cannot read the primary's write position", database=replicas.name, error=str(exc)[:200])
        position = AHEAD
    _keep(key, position, ttl)
    if position == AHEAD:
        return
    try:
        await services.cache.set(key, str(position).encode(), ttl=ttl)
    except Exception as exc:  # noqa: BLE001 - the write is done; only its read-back elsewhere may be stale
        log.warning("cannot record the caller's write position", database=replicas.name, error=str(exc)[:200])


def _keep(key: str, position: int, ttl: float) -> None:
    now = time.monotonic()
    if len(_RECENT) >= RECENT_MAX:
        for stale in [k for k, (_, until) in _RECENT.items() if until <= now]:
            del _RECENT[stale]
        while len(_RECENT) >= RECENT_MAX:  # still full: forget the oldest (insertion order)
            del _RECENT[next(iter(_RECENT))]
    _RECENT.pop(key, None)
    _RECENT[key] = (position, now + ttl)


async def stale_reads_ok() -> None:
    """Route dependency: this route's reads may be up to ``database_replica_max_lag_s`` stale
    (except the caller's own writes)."""
    reads = CURRENT.get()
    if reads is not None:
        reads.stale_ok = True
        reads.task = asyncio.current_task()


StaleReadsOk = Depends(stale_reads_ok)
