"""Read replicas of a PostgreSQL database: which reads may go to one, and which replica.

One ``ReplicaSet`` serves one primary and its streaming replicas: the main database has one,
and so may each shard database (``Database``). Everything below holds per set; what a request
did (``Reads``) is shared by all of them.

A read goes to a replica only when all of these hold, else to the primary:

* it runs inside a request that declared it tolerates staleness (``Reads.stale_ok``: the
  profile, clip, comment and list pages), on the request's own task or on one of the steps it
  runs at once with ``together``; workers, write paths and work a request hands off (a task it
  does not await, a computation shared with other requests) always read the primary, since
  what they read decides what they write;
* the request has not written yet, to any database (``Reads.wrote``): a request reads its own
  writes;
* the replica is known to be at most ``max_lag_s`` behind (measured below), and it answers;
* the replica has replayed the caller's last write to its primary (``Reads.writer_lsn``): a
  client that wrote a moment ago (its profile, a comment) reads it back on its next request,
  wherever it lands. A WAL position means something only on the server that wrote it, so the
  HTTP layer records, when a request wrote, the position of each primary it wrote to, under a
  key of the caller's credentials and that database's name, and gives it here;
* the replica has replayed ``floor`` (a shard database's replicas: the position its primary
  had once the last virtual shard moved there had arrived, ``clipfeed shards move``), and
  ``fenced`` does not find the shard gone from it (moved away: its rows may be deleted there).

Lag is measured as time, not bytes: every ``CHECK_EVERY_S`` a process notes the primary's
current WAL position and asks each replica how far it has replayed; a replica's lag is how
long ago the primary stood where the replica stands now (zero once it has replayed everything
noted). A replica that stops receiving (its link to the primary cut) falls behind by this
measure even though it reports itself as idle, which ``pg_last_xact_replay_timestamp`` alone
would not show. So the staleness a reader can see is at most ``max_lag_s`` plus one check.

When the primary itself does not answer (its server is down, or the link to the region that
holds it is cut), reads that tolerate staleness are served by any replica that answers,
however far behind: a page a few minutes old beats an error when nothing could be written
meanwhile anyway. "Does not answer": its last probe failed, or the one out has gone
unanswered for ``PRIMARY_DOWN_AFTER_S``; a read that no fresh replica could serve anyway (none
within the bound, and the caller wrote nothing recently) falls back as soon as one probe has
gone unanswered for ``PROBE_WAIT_S``. Such a read is marked (``Reads.stale_up_to_s``, which
the HTTP layer turns into a ``Clipfeed-Stale`` header) with how stale it may be: the time
since the primary last answered, or more if the replica was already behind then. Writes
still go to the primary and fail; the caller's own last write may be missing from such a page.

A read that decides who may see or do what (an access token, a block, a mute) asks for a
replica within ``access_max_stale_s`` (``access``); such reads follow the same rule about tasks,
so a page that checks a block in a step run with ``together`` still reads it from the replica
while the primary does not answer, instead of waiting for the primary and failing.

Each probe (the primary's position, each replica's) is waited for at most ``PROBE_WAIT_S`` per
check; one still running then (a blackholed link: packets vanish, nothing answers) counts as
not answering, and no second probe of that server starts until it ends. So a check never
stalls behind a dead server and the replicas' state stays current.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

import sqlalchemy as sa
import structlog
from prometheus_client import Counter, Gauge
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from clipfeed.core.errors import Unavailable

log = structlog.get_logger("clipfeed.replicas")

CHECK_EVERY_S = 1.0
# How long a check waits for each probe; one still running after this does not answer.
PROBE_WAIT_S = 1.0
# A primary whose probe has run this long, or failed, is unreachable: stale reads fall back to
# any answering replica (past the database's connect timeout, so a slow primary is not "down").
PRIMARY_DOWN_AFTER_S = 3.0
# How long the primary's positions are remembered: a replica further behind than this counts
# as this far behind (far past any sensible ``max_lag_s``).
HISTORY_S = 120.0
PRIMARY_LSN = sa.text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
REPLAYED_LSN = sa.text("SELECT pg_last_wal_replay_lsn() - '0/0'::pg_lsn")

READS = Counter("clipfeed_db_reads_total", "Read sessions that could go to a replica, by database, where they "
                "went and why", ["database", "target", "reason"])
# database: main, shard0, shard1, ... (the index in CLIPFEED_DATABASE_SHARD_URLS).
# reason: replica (served there), no_replica (none fresh and up), own_write (the request wrote),
# writer_ahead (the caller's last write not replayed yet), arriving (a virtual shard moved to
# this shard database, not replayed yet), moved (the replica shows the shard moved away),
# down (the replica did not answer), primary_down (served by a replica however far behind, the
# primary not answering; for a read that decides who may act, only one within
# ``access_max_stale_s``), too_stale (such a read refused: the primary not answering and no
# replica that close)
LAG = Gauge("clipfeed_db_replica_lag_seconds", "How far each read replica is behind the primary, as last measured",
            ["replica"], multiprocess_mode="livemax")


@dataclass(slots=True)
class Reads:
    """One request's reading state, kept in a context variable by the HTTP layer."""

    stale_ok: bool = False
    # The request's own task, and the steps it runs at once with ``together``: other tasks it
    # starts (work handed off, shared with other requests) read the primary.
    task: asyncio.Task[Any] | None = None
    steps: set[asyncio.Task[Any]] = field(default_factory=set)
    # The databases the request wrote to (``main``, ``shard0``, ...): the HTTP layer records
    # each one's WAL position for the caller.
    written: set[str] = field(default_factory=set)
    # The WAL position the caller's last write left on a database's primary (None: none recorded).
    load_writer_lsn: Callable[[str], Awaitable[int | None]] | None = None
    _writer_lsns: dict[str, int | None] = field(default_factory=dict)
    _settled: dict[tuple[str, int], bool] = field(default_factory=dict)  # (replica, position) -> replayed
    # Set when a read was served by a replica only because the primary does not answer: how
    # stale the page may be, in seconds (the HTTP layer says so in a header).
    stale_up_to_s: float | None = None

    @property
    def wrote(self) -> bool:
        return bool(self.written)

    async def writer_lsn(self, database: str) -> int | None:
        if database not in self._writer_lsns:
            self._writer_lsns[database] = None
            if self.load_writer_lsn is not None:
                self._writer_lsns[database] = await self.load_writer_lsn(database)
        return self._writer_lsns[database]


CURRENT: ContextVar[Reads | None] = ContextVar("clipfeed_reads", default=None)


def may_read_stale() -> Reads | None:
    """The calling request's reading state when its reads may go to a replica."""
    reads = CURRENT.get()
    if reads is None or not reads.stale_ok:
        return None
    task = asyncio.current_task()
    if task is not reads.task and task not in reads.steps:
        return None
    return reads


A = TypeVar("A")
B = TypeVar("B")
C = TypeVar("C")


@overload
async def together(first: Awaitable[A], second: Awaitable[B], /) -> tuple[A, B]: ...
@overload
async def together(first: Awaitable[A], second: Awaitable[B], third: Awaitable[C], /) -> tuple[A, B, C]: ...
async def together(*steps: Awaitable[Any]) -> tuple[Any, ...]:
    """The steps' results, the steps run at once (``asyncio.gather``), each in a task that reads
    as the calling request's own: where the request tolerates stale reads, so do the steps,
    whose visibility checks (``read_session(access=True)``) then read a replica within its
    bound like the request's own. Awaited here, so nothing outlives the call."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    reads = may_read_stale()
    if reads is not None:
        reads.steps.update(tasks)
    try:
        return tuple(await asyncio.gather(*tasks))
    finally:
        if reads is not None:
            reads.steps.difference_update(tasks)


def note_statement(statement: str, database: str) -> None:
    """Called for each statement a primary runs: a write marks the request as having written there."""
    reads = CURRENT.get()
    if (reads is not None and database not in reads.written
            and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE")):
        reads.written.add(database)


@dataclass(slots=True)
class Replica:
    label: str  # its URL without the password: the metrics' label
    engine: AsyncEngine
    sessions: async_sessionmaker[Any]
    replayed: int | None = None
    lag_s: float = float("inf")  # unknown until first measured: not used
    up: bool = False
    probe: Probe | None = None


async def _replayed(replica: Replica) -> int | None:
    """How far ``replica`` has replayed the primary's WAL; None when it is not a standby."""
    async with replica.engine.connect() as conn:
        replayed = await conn.scalar(REPLAYED_LSN)
    return None if replayed is None else int(replayed)


async def _position(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(PRIMARY_LSN))


class Probe:
    """One server's probe, run as a task that is never cancelled (a statement cut off half-way
    leaves its connection in an unknown state): a check waits for it a bounded time, and a
    probe still running is waited for again by the next check instead of starting another."""

    def __init__(self, work: Awaitable[int | None]) -> None:
        self.started = time.monotonic()
        self.task: asyncio.Task[int | None] = asyncio.ensure_future(work)

    async def result(self, wait_s: float) -> tuple[bool, int | None, str]:
        """(answered, value, error): ``answered`` False when the probe failed or is still running."""
        done, _ = await asyncio.wait({self.task}, timeout=wait_s)
        if not done:
            return False, None, f"no answer for {time.monotonic() - self.started:.1f} s"
        exc = self.task.exception()
        if exc is not None:
            return False, None, str(exc)[:200]
        return True, self.task.result(), ""

    @property
    def running_s(self) -> float:
        return 0.0 if self.task.done() else time.monotonic() - self.started


def _again(probe: Probe | None, work: Callable[[], Awaitable[int | None]]) -> Probe:
    """The probe still running, else a new one."""
    return probe if probe is not None and not probe.task.done() else Probe(work())


class ReplicaSet:
    """The replicas of one primary, their measured lag, and the choice of one for a read.
    ``name`` says which database it is (``main``, ``shard0``, ...): the writer's position kept
    for it, and the label of its reads in the metrics."""

    def __init__(self, primary: AsyncEngine, replicas: list[Replica], *, max_lag_s: float,
                 access_max_stale_s: float = 60.0, name: str = "main") -> None:
        self.name = name
        self.primary = primary
        self.replicas = replicas
        self.max_lag_s = max_lag_s
        self.access_max_stale_s = access_max_stale_s
        self._history: deque[tuple[float, int]] = deque()
        self._turn = itertools.count()
        self._checked_at = 0.0
        self._check: asyncio.Task[None] | None = None
        self._primary_probe: Probe | None = None
        self.primary_unanswered = False  # the primary gave no position at the last check
        self.primary_erred = False  # the last probe of the primary that ended raised
        self.primary_seen_at: float | None = None  # when the primary last gave its position

    async def check(self) -> None:
        """Measure every replica's lag now (the background check runs this every second)."""
        self._primary_probe = _again(self._primary_probe, functools.partial(_position, self.primary))
        for replica in self.replicas:
            replica.probe = _again(replica.probe, functools.partial(_replayed, replica))
        primary = self._primary_probe
        answered, position, error = await primary.result(PROBE_WAIT_S)
        now = time.monotonic()
        if primary.task.done():
            self.primary_erred = not answered
        if answered and position is not None:
            if self.primary_unanswered:
                log.info("replica check: primary answering again")
            self.primary_unanswered, self.primary_seen_at = False, primary.started
            self._history.append((primary.started, position))
            while self._history and self._history[0][0] < now - HISTORY_S:
                self._history.popleft()
        elif not self.primary_unanswered:
            self.primary_unanswered = True
            log.warning("replica check: primary not answering", error=error)
        for replica in self.replicas:
            assert replica.probe is not None
            answered, replayed, error = await replica.probe.result(max(0.0, PROBE_WAIT_S - (time.monotonic() - now)))
            if not answered or replayed is None:  # down, or not a standby (promoted): never read from it
                if replica.up:
                    log.warning("read replica not answering", replica=replica.label, error=error or "not a standby")
                replica.up, replica.lag_s = False, float("inf")
                continue
            replica.up, replica.replayed = True, replayed
            replica.lag_s = self._lag(replayed, now)
            LAG.labels(replica.label).set(min(replica.lag_s, HISTORY_S))

    def _lag(self, replayed: int, now: float) -> float:
        """How long ago the primary was where ``replayed`` is: the time of the first noted
        position past it. While the primary does not answer, what it wrote since it last did is
        unknown: the replica may be behind by all of that time."""
        lag = 0.0
        for at, position in self._history:
            if position > replayed:
                lag = now - at
                break
        if self.primary_unanswered:
            seen = self.primary_seen_at if self.primary_seen_at is not None else now - HISTORY_S
            lag = max(lag, now - seen)
        return lag

    def primary_down(self) -> bool:
        """Whether the primary is unreachable: its last probe that ended failed, or the one
        running has gone unanswered for ``PRIMARY_DOWN_AFTER_S`` (a slow primary is not down)."""
        probe = self._primary_probe
        if probe is None:
            return False
        return probe.running_s >= PRIMARY_DOWN_AFTER_S or (self.primary_erred and self.primary_unanswered)

    def _keep_checking(self) -> None:
        if self._check is None or self._check.done():
            self._check = asyncio.get_running_loop().create_task(self._checking())

    async def _checking(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.check()
            except Exception as exc:  # noqa: BLE001 - a check that broke is retried next round
                log.warning("replica check failed", error=str(exc)[:200])
            else:
                self._checked_at = time.monotonic()
            await asyncio.sleep(max(0.0, CHECK_EVERY_S - (time.monotonic() - started)))

    def fresh(self, bound_s: float | None = None) -> list[Replica]:
        """The replicas up and within ``max_lag_s`` as last measured; or, given ``bound_s``,
        those at most that far behind now (their measured lag plus the time since)."""
        self._keep_checking()
        age = time.monotonic() - self._checked_at
        if age > 3 * CHECK_EVERY_S:
            return []  # the measurements are old (the check is stuck): trust none of them
        if bound_s is None:
            return [r for r in self.replicas if r.up and r.lag_s <= self.max_lag_s]
        return [r for r in self.replicas if r.up and r.lag_s + age <= bound_s]

    def _rotate(self, candidates: list[Replica]) -> list[Replica]:
        start = next(self._turn)
        return [candidates[(start + i) % len(candidates)] for i in range(len(candidates))]

    async def choose(self, reads: Reads, *, access: bool = False, floor: int = 0) -> tuple[Replica | None, str]:
        """A replica for this read, or None and why not. ``access``: the read decides who may
        act; no replica further behind than ``access_max_stale_s`` serves it, and when the
        primary does not answer and none is that close, the reason is ``too_stale`` (the
        caller refuses the request rather than wait for the primary). ``floor``: a WAL position
        every replica that serves must have replayed, even when the primary does not answer."""
        if reads.wrote:
            return None, "own_write"
        reason = "no_replica"
        candidates = self.fresh(min(self.max_lag_s, self.access_max_stale_s) if access else None)
        if candidates:
            ordered = self._rotate(candidates)
            needed = await reads.writer_lsn(self.name)
            wanted = max(needed or 0, floor)
            for replica in ordered:
                if not wanted or await self._has(replica, wanted, reads):
                    return replica, "replica"
            reason = "writer_ahead" if needed is not None and needed >= floor else "arriving"
        # The primary is down, or gave no position at the last check (one probe unanswered for
        # ``PROBE_WAIT_S``) while no replica is fresh: reading it would likely hang. The caller's
        # own recent write is worth waiting for until the primary counts as down.
        early = reason == "no_replica" and self.primary_unanswered and await reads.writer_lsn(self.name) is None
        if early or self.primary_down():
            answering = self.fresh(self.access_max_stale_s) if access else [r for r in self.replicas if r.up]
            answering = [r for r in answering if not floor or (r.replayed or 0) >= floor]
            if answering:
                return self._rotate(answering)[0], "primary_down"
            if access and self.primary_down():
                return None, "too_stale"
        return None, reason

    async def _has(self, replica: Replica, lsn: int, reads: Reads) -> bool:
        """Whether ``replica`` has replayed ``lsn``: from the last check when that shows it,
        else asked (once per request, replica and position)."""
        if replica.replayed is not None and replica.replayed >= lsn:
            return True
        if (replica.label, lsn) not in reads._settled:
            try:
                replayed = await _replayed(replica)
            except (DBAPIError, OSError):
                replayed = None
            reads._settled[(replica.label, lsn)] = replayed is not None and replayed >= lsn
        return reads._settled[(replica.label, lsn)]

    async def position(self) -> int:
        """The primary's current WAL position: what a replica must replay to show what it has now."""
        return await _position(self.primary)

    @asynccontextmanager
    async def reading(self, reads: Reads, *, access: bool = False, floor: int = 0,
                      fenced: Callable[[AsyncSession], Awaitable[bool]] | None = None,
                      ) -> AsyncIterator[AsyncSession | None]:
        """A session on the replica ``choose`` picks, or None: the caller reads the primary.
        ``fenced(session)``: whether the replica shows the rows to be read moved away (then
        None too). A replica serving only because the primary does not answer marks the
        request stale. Raises ``Unavailable`` for ``too_stale``."""
        replica, reason = await self.choose(reads, access=access, floor=floor)
        if reason == "too_stale":
            READS.labels(self.name, "none", reason).inc()
            raise Unavailable("the primary database does not answer and no replica is recent enough "
                              "to check who may do this", retry_after=5)
        if replica is not None:
            async with self.session(replica) as session:
                if session is not None and (fenced is None or not await fenced(session)):
                    if reason == "primary_down":
                        reads.stale_up_to_s = max(reads.stale_up_to_s or 0.0, replica.lag_s)
                    READS.labels(self.name, "replica", reason).inc()
                    yield session
                    return
            reason = "down" if session is None else "moved"
        READS.labels(self.name, "primary", reason).inc()
        yield None

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
        probes = [p.task for p in (self._primary_probe, *(r.probe for r in self.replicas)) if p is not None]
        for task in probes:
            task.cancel()  # the engines are disposed of next: a probe on a dead link would wait forever
        await asyncio.gather(*probes, return_exceptions=True)
        for replica in self.replicas:
            await replica.engine.dispose()
