"""Read replicas of the main PostgreSQL database: which reads may go to one, and which replica.

A read goes to a replica only when all of these hold, else to the primary:

* it runs inside a request that declared it tolerates staleness (``Reads.stale_ok``: the
  profile, clip, comment and list pages); workers and write paths always read the primary,
  since what they read decides what they write;
* the request has not written yet (``Reads.wrote``): a request reads its own writes;
* the replica is known to be at most ``max_lag_s`` behind (measured below), and it answers;
* the replica has replayed the caller's last write (``Reads.writer_lsn``): a client that wrote
  a moment ago (its profile, a comment) reads it back on its next request, wherever it lands.
  The HTTP layer records the primary's WAL position when a request wrote, under a key of the
  caller's credentials, and gives it here as the position a replica must have reached.

Lag is measured as time, not bytes: every ``CHECK_EVERY_S`` a process notes the primary's
current WAL position and asks each replica how far it has replayed; a replica's lag is how
long ago the primary stood where the replica stands now (zero once it has replayed everything
noted). A replica that stops receiving (its link to the primary cut) falls behind by this
measure even though it reports itself as idle, which ``pg_last_xact_replay_timestamp`` alone
would not show. So the staleness a reader can see is at most ``max_lag_s`` plus one check.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

log = structlog.get_logger("clipfeed.replicas")

CHECK_EVERY_S = 1.0
# How long the primary's positions are remembered: a replica further behind than this counts
# as this far behind (far past any sensible ``max_lag_s``).
HISTORY_S = 120.0
PRIMARY_LSN = sa.text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
REPLAYED_LSN = sa.text("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")

READS = Counter("clipfeed_db_reads_total", "Read sessions that could go to a replica, by where they went and why",
                ["target", "reason"])
# reason: replica (served there), no_replica (none fresh and up), own_write (the request wrote),
# writer_ahead (the caller's last write not replayed yet), down (the replica did not answer)
LAG = Gauge("clipfeed_db_replica_lag_seconds", "How far each read replica is behind the primary, as last measured",
            ["replica"], multiprocess_mode="livemax")


@dataclass(slots=True)
class Reads:
    """One request's reading state, kept in a context variable by the HTTP layer."""

    stale_ok: bool = False
    # The request's own task: tasks it starts (a gather, work handed off) read the primary.
    task: asyncio.Task[Any] | None = None
    wrote: bool = False
    # The WAL position the caller's last write left on the primary (None: none recorded).
    load_writer_lsn: Callable[[], Awaitable[int | None]] | None = None
    _writer_lsn: int | None = None
    _loaded: bool = False
    _settled: dict[int, bool] = field(default_factory=dict)  # replica index -> has the writer's LSN

    async def writer_lsn(self) -> int | None:
        if not self._loaded:
            self._loaded = True
            if self.load_writer_lsn is not None:
                self._writer_lsn = await self.load_writer_lsn()
        return self._writer_lsn


CURRENT: ContextVar[Reads | None] = ContextVar("clipfeed_reads", default=None)


def may_read_stale() -> Reads | None:
    """The calling request's reading state when its reads may go to a replica."""
    reads = CURRENT.get()
    if reads is None or not reads.stale_ok or reads.task is not asyncio.current_task():
        return None
    return reads


def note_statement(statement: str) -> None:
    """Called for each statement the primary runs: a write marks the request as having written."""
    reads = CURRENT.get()
    if reads is not None and not reads.wrote and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
        reads.wrote = True


@dataclass(slots=True)
class Replica:
    index: int
    label: str
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    replayed: int | None = None
    lag_s: float = float("inf")  # unknown until first measured: not used
    up: bool = False


async def _replayed(replica: Replica) -> int | None:
    """How far ``replica`` has replayed the primary's WAL; None when it is not a standby."""
    async with replica.engine.connect() as conn:
        replayed = await conn.scalar(REPLAYED_LSN)
    return None if replayed is None else int(replayed)


class ReplicaSet:
    """The replicas of one primary, their measured lag, and the choice of one for a read."""

    def __init__(self, primary: AsyncEngine, replicas: list[Replica], *, max_lag_s: float) -> None:
        self.primary = primary
        self.replicas = replicas
        self.max_lag_s = max_lag_s
        self._history: deque[tuple[float, int]] = deque()
        self._turn = itertools.count()
        self._checked_at = 0.0
        self._check: asyncio.Task[None] | None = None

    async def check(self) -> None:
        """Measure every replica's lag now (the background check runs this every second)."""
        try:
            async with self.primary.connect() as conn:
                position = int(await conn.scalar(PRIMARY_LSN))
        except (DBAPIError, OSError) as exc:
            log.warning("replica check: primary not answering", error=str(exc)[:200])
            return
        now = time.monotonic()
        self._history.append((now, position))
        while self._history and self._history[0][0] < now - HISTORY_S:
            self._history.popleft()
        for replica in self.replicas:
            try:
                replayed = await _replayed(replica)
            except (DBAPIError, OSError) as exc:
                if replica.up:
                    log.warning("read replica not answering", replica=replica.label, error=str(exc)[:200])
                replica.up, replica.lag_s = False, float("inf")
                continue
            if replayed is None:  # not a standby (promoted, or misconfigured): never read from it
                replica.up, replica.lag_s = False, float("inf")
                continue
            replica.up, replica.replayed = True, replayed
            replica.lag_s = self._lag(replica.replayed, now)
            LAG.labels(replica.label).set(min(replica.lag_s, HISTORY_S))

    def _lag(self, replayed: int, now: float) -> float:
        """How long ago the primary was where ``replayed`` is: the time of the first noted
        position past it."""
        for at, position in self._history:
            if position > replayed:
                return now - at
        return 0.0

    def _keep_checking(self) -> None:
        if self._check is None or self._check.done():
            self._check = asyncio.get_running_loop().create_task(self._checking())

    async def _checking(self) -> None:
        while True:
            started = time.monotonic()
            await self.check()
            self._checked_at = time.monotonic()
            await asyncio.sleep(max(0.0, CHECK_EVERY_S - (time.monotonic() - started)))

    def fresh(self) -> list[Replica]:
        self._keep_checking()
        if time.monotonic() - self._checked_at > 3 * CHECK_EVERY_S:
            return []  # the measurements are old (the check is stuck): trust none of them
        return [r for r in self.replicas if r.up and r.lag_s <= self.max_lag_s]

    async def choose(self, reads: Reads) -> tuple[Replica | None, str]:
        """A replica for this read, or None and why not."""
        if reads.wrote:
            return None, "own_write"
        candidates = self.fresh()
        if not candidates:
            return None, "no_replica"
        start = next(self._turn)
        ordered = [candidates[(start + i) % len(candidates)] for i in range(len(candidates))]
        needed = await reads.writer_lsn()
        if needed is None:
            return ordered[0], "replica"
        for replica in ordered:
            if await self._has(replica, needed, reads):
                return replica, "replica"
        return None, "writer_ahead"

    async def _has(self, replica: Replica, lsn: int, reads: Reads) -> bool:
        """Whether ``replica`` has replayed ``lsn``: from the last check when that shows it,
        else asked (once per request and replica)."""
        if replica.replayed is not None and replica.replayed >= lsn:
            return True
        if replica.index not in reads._settled:
            try:
                replayed = await _replayed(replica)
            except (DBAPIError, OSError):
                replayed = None
            reads._settled[replica.index] = replayed is not None and replayed >= lsn
        return reads._settled[replica.index]

    @asynccontextmanager
    async def session(self, replica: Replica) -> AsyncIterator[AsyncSession | None]:
        """A read session on ``replica``, or None when it does not answer (the caller reads
        the primary instead). Its read-only transaction is committed at the end, which keeps
        what was loaded usable afterwards (a rollback would expire it)."""
        async with replica.sessions() as session:
            try:
                await session.connection()
            except (DBAPIError, OSError) as exc:
                replica.up = False
                log.warning("read replica not answering; reading the primary", replica=replica.label,
                            error=str(exc)[:200])
                yield None
                return
            yield session
            await session.commit()

    async def close(self) -> None:
        if self._check is not None:
            self._check.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._check
        for replica in self.replicas:
            await replica.engine.dispose()
