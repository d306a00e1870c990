"""Engines, sessions and the shard router for the metadata store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from clipfeed.core.errors import Unavailable
from clipfeed.core.sharding import ShardRouter
from clipfeed.infra.breaker import BREAKERS, Breaker, BreakerOpen
from clipfeed.infra.db import replicas as replication
from clipfeed.infra.db import restarts
from clipfeed.infra.db.base import utcnow
from clipfeed.infra.db.shardmap import ShardAssignment

T = TypeVar("T")


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].split("+", 1)[0]


def async_url(url: str) -> str:
    """Our URLs name the engine only (``sqlite://``, ``postgresql://``); pick the driver."""
    return _with_driver(url, sqlite="sqlite+aiosqlite")


def sync_url(url: str) -> str:
    return _with_driver(url, sqlite="sqlite")


def _with_driver(url: str, *, sqlite: str) -> str:
    scheme = _scheme(url)
    rest = url.split("://", 1)[1]
    if scheme == "sqlite":
        return f"{sqlite}://{rest}"
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    raise ValueError(f"unknown database URL scheme {scheme!r} (use sqlite:// or postgresql://)")


# The server, workers and CLI commands (`events replay --rebuild`, `migrate`) share one SQLite
# file; a writer waits this long for another process's write transaction before failing with
# "database is locked" (long rebuilds hold the lock for more than the usual 10 s).
BUSY_TIMEOUT_MS = 60_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer (API, workers and CLI share one file);
    # synchronous=NORMAL in WAL mode loses nothing when a process dies, only on power loss.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


# How long a transaction waits for a restarting server (``restarts``; CLIPFEED_DATABASE_RESTART_WAIT_S).
RESTART_WAIT_S = 10.0
RESTART_BREAKER_OPEN_S = 1.0  # CLIPFEED_DATABASE_RESTART_BREAKER_OPEN_S


def make_engine(url: str, *, pool_size: int = 10, restart_wait_s: float = RESTART_WAIT_S,
                restart_breaker_open_s: float = RESTART_BREAKER_OPEN_S) -> AsyncEngine:
    scheme = _scheme(url)
    if scheme == "sqlite":
        path = url.split("://", 1)[1].lstrip("/")
        if path and path != ":memory:":
            Path("/" + path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(async_url(url), connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # A dead database must fail fast (503 to clients), never hang a request. A server that
    # vanishes without closing its connections (a cut link between regions drops packets, it
    # sends no reset) would leave a statement waiting for ever: ``statement_timeout`` is the
    # server's own. So TCP gives up on data unacknowledged for 5 s (``tcp_user_timeout``), and
    # keepalives find a connection gone while it waits for an answer (docs/operate/regions.md).
    # The same names in the URL's query (``?tcp_user_timeout=10000``) win.
    given = set(sa.engine.make_url(async_url(url)).query)
    tcp = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
           "tcp_user_timeout": 5000}
    engine = create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=5,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 3, "options": "-c statement_timeout=15000",
                      **{name: value for name, value in tcp.items() if name not in given}},
    )
    endpoint = engine.url.render_as_string(hide_password=True)
    _guard_connects(engine, BREAKERS.get("postgresql", endpoint), restarts.watch_for(endpoint, restart_wait_s,
                                                                                   restart_breaker_open_s))
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda _conn, _cursor, statement, *_: restarts.note_statement(statement))
    return engine


def watch_of(engine: AsyncEngine) -> restarts.RestartWatch | None:
    """The restart watch of a PostgreSQL engine made by ``make_engine``; None for SQLite."""
    if _scheme(str(engine.url)) != "postgresql":
        return None
    return restarts._WATCHES.get(engine.url.render_as_string(hide_password=True))


def _guard_connects(engine: AsyncEngine, breaker: Breaker, watch: restarts.RestartWatch) -> None:
    """New connections to the database go through its breaker. Pooled connections are checked
    (pre-ping) before use, so once the server is gone every request reaches this point, and an
    open breaker turns its 3 s connect timeout into an immediate ``OperationalError`` (the
    503 the HTTP layer already gives for a database it cannot reach, or a wait while the server
    restarts: ``watch`` notes when it started refusing connections)."""

    @event.listens_for(engine.sync_engine, "do_connect")
    def connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        try:
            breaker.allow()
        except BreakerOpen as err:
            raise dialect.loaded_dbapi.OperationalError(str(err)) from err
        try:
            connection = dialect.connect(*cargs, **cparams)
        except Exception as exc:
            if isinstance(exc, dialect.loaded_dbapi.OperationalError | OSError):
                breaker.failed(open_s=watch.breaker_open_s if restarts.refused(exc) else None)
                watch.connect_failed(exc)
            else:
                breaker.succeeded()  # refused for another reason (a bad password): it answered
            raise
        except BaseException:
            breaker.abandoned()
            raise
        breaker.succeeded()
        watch.connected()
        return connection


async def _uninterrupted(step: Coroutine[Any, Any, T]) -> T:
    """Run one database step to its end, even if the caller is cancelled meanwhile; the
    cancellation then takes effect as soon as the step is over.

    Why: workers, relays and request handlers are cancelled when they stop or their client
    goes. A cancellation arriving inside a statement, a commit or a rollback made SQLAlchemy
    give up the connection in an unknown state (it invalidates it), and on SQLite the
    connection was then left open inside its transaction until the garbage collector found
    it, holding the file's write lock: every other writer (other tasks, other processes)
    waited out the busy timeout and failed with "database is locked". A step that always
    finishes leaves the session consistent, so the rollback that the cancellation triggers
    ends the transaction and the connection goes back to the pool clean.
    """
    task = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([task])
        raise


class ClipfeedSession(AsyncSession):
    """An ``AsyncSession`` whose database steps are never cut off half-way (``_uninterrupted``),
    and whose transactions wait for a restarting PostgreSQL server before their first statement
    (``restarts``: nothing has been sent yet, so nothing can be done twice)."""

    def __init__(self, *args: Any, restart_watch: restarts.RestartWatch | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._restarts = restart_watch
        self._holding = False  # the current transaction holds its connection

    async def _connected(self) -> None:
        """Check the transaction's connection out now, waiting out a restart of the server
        (``RestartWatch.wait_until``) with jittered back-off. Outside the pool: a waiting
        transaction holds no pool slot, so the pool's own timeout cannot fail it."""
        if self._holding or self._restarts is None:
            return
        arrived = time.monotonic()
        attempt = 0
        while True:
            try:
                await _uninterrupted(super().connection())
            except DBAPIError as exc:
                until = self._restarts.wait_until(arrived, exc)
                pause = min(restarts.pause_s(attempt), (until or 0.0) - time.monotonic())
                if until is None or pause <= 0:
                    raise
                if attempt == 0:
                    restarts.WAITS.inc()
                attempt += 1
                await asyncio.sleep(pause)
                continue
            self._holding = True
            return

    async def connection(self, *args: Any, **kwargs: Any) -> Any:
        await self._connected()
        return await super().connection(*args, **kwargs)

    async def run_sync(self, *args: Any, **kwargs: Any) -> Any:
        await self._connected()
        return await super().run_sync(*args, **kwargs)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        await self._connected()
        return await _uninterrupted(super().execute(*args, **kwargs))

    async def scalar(self, *args: Any, **kwargs: Any) -> Any:
        await self._connected()
        return await _uninterrupted(super().scalar(*args, **kwargs))

    async def scalars(self, *args: Any, **kwargs: Any) -> Any:
        await self._connected()
        return await _uninterrupted(super().scalars(*args, **kwargs))

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        await self._connected()
        return await _uninterrupted(super().get(*args, **kwargs))

    async def flush(self, *args: Any, **kwargs: Any) -> None:
        await self._connected()
        await _uninterrupted(super().flush(*args, **kwargs))

    async def delete(self, *args: Any, **kwargs: Any) -> None:
        await self._connected()
        await _uninterrupted(super().delete(*args, **kwargs))

    async def commit(self) -> None:
        self._holding = False  # the next transaction checks a connection out again
        await _uninterrupted(super().commit())

    async def rollback(self) -> None:
        self._holding = False  # the next transaction checks a connection out again
        await _uninterrupted(super().rollback())

    async def close(self) -> None:
        self._holding = False  # the next transaction checks a connection out again
        await _uninterrupted(super().close())


def _all_rows(session: Session, statement: Executable, params: Mapping[str, Any] | None) -> Sequence[Any]:
    return session.connection().execute(statement, params).all()


async def read_rows(session: AsyncSession, statement: Executable,
                    params: Mapping[str, Any] | None = None) -> Sequence[Any]:
    """Every row of a statement of plain columns (no ORM entities), run on ``session``'s
    connection and transaction without the ORM's execution and result layers: the same rows
    for 0.05-0.3 ms less CPU a statement (a search runs a dozen). Not cut off half-way, like
    the session's own steps (``_uninterrupted``)."""
    return await _uninterrupted(session.run_sync(_all_rows, statement, params))


@asynccontextmanager
async def _transaction(maker: async_sessionmaker[ClipfeedSession]) -> AsyncIterator[ClipfeedSession]:
    """A session in one transaction: committed when the block ends, rolled back when it raises
    (a cancellation included), and given back to the pool; each of those steps runs to its end."""
    async with maker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


def _sessions(engine: AsyncEngine) -> async_sessionmaker[ClipfeedSession]:
    return async_sessionmaker(engine, class_=ClipfeedSession, expire_on_commit=False, restart_watch=watch_of(engine))


# How long a shard write waits for a move of its virtual shard to switch over, and how often it
# reads the map meanwhile (a move's final step takes well under a second for 100k rows).
MOVE_WAIT_S = 30.0
MOVE_POLL_S = 0.05

# The session ``Database.shared_reads`` opened: its database, the task that opened it, the session.
_SHARED: ContextVar[tuple[Database, asyncio.Task[Any] | None, AsyncSession] | None] = ContextVar(
    "clipfeed_shared_reads", default=None)


class Database:
    """The main database plus the shard databases, with one router over the shards."""

    def __init__(self, url: str, *, shard_urls: list[str] | None = None,
                 virtual_shards: int = 1024, pool_size: int = 10,
                 replica_urls: list[str] | None = None, replica_max_lag_s: float = 2.0,
                 replica_access_max_stale_s: float = 60.0, restart_wait_s: float = RESTART_WAIT_S,
                 restart_breaker_open_s: float = RESTART_BREAKER_OPEN_S) -> None:
        self.url = url
        self.shard_urls = list(shard_urls or [])
        waits = {"restart_wait_s": restart_wait_s, "restart_breaker_open_s": restart_breaker_open_s}
        self.engine = make_engine(url, pool_size=pool_size, **waits)
        self._shard_engines = [make_engine(u, pool_size=pool_size, **waits) for u in self.shard_urls] or [self.engine]
        self.router = ShardRouter(databases=len(self._shard_engines), virtual_shards=virtual_shards)
        self._sessions = _sessions(self.engine)
        self._shard_sessions = [_sessions(e) for e in self._shard_engines]
        # Shard moves (``clipfeed shards move``) need PostgreSQL shard databases; there, every
        # shard transaction checks its virtual shards' fences (``_enter``).
        self.fenced = bool(self.shard_urls) and all(_scheme(u) in ("postgresql", "postgres")
                                                   for u in [url, *self.shard_urls])
        self.replicas: replication.ReplicaSet | None = None
        if replica_urls:
            if self.is_sqlite:
                raise ValueError("read replicas need PostgreSQL as the main database")
            # A replica that does not answer is skipped for the primary: no wait for its restart.
            engines = [make_engine(u, pool_size=pool_size, restart_wait_s=0) for u in replica_urls]
            self.replicas = replication.ReplicaSet(self.engine, [
                replication.Replica(i, e.url.render_as_string(hide_password=True), e,
                                    async_sessionmaker(e, class_=ClipfeedSession, expire_on_commit=False))
                for i, e in enumerate(engines)], max_lag_s=replica_max_lag_s,
                access_max_stale_s=replica_access_max_stale_s)
            event.listen(self.engine.sync_engine, "before_cursor_execute",
                         lambda _conn, _cursor, statement, *_: replication.note_statement(statement))

    def restarting(self) -> bool:
        """One of this process's PostgreSQL databases refuses connections as a restarting server
        does, since less than its restart wait: requests wait for it (``restarts``)."""
        return any(watch.restarting() for watch in
                   {id(w): w for w in map(watch_of, [self.engine, *self._shard_engines]) if w is not None}.values())

    @property
    def is_sqlite(self) -> bool:
        return _scheme(self.url) == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session on the main database; commits on success, rolls back on error."""
        async with _transaction(self._sessions) as session:
            yield session

    @asynccontextmanager
    async def shared_reads(self) -> AsyncIterator[None]:
        """Inside this block, ``read_session`` on this database gives one session (one
        connection, one transaction) to the task that opened it: a request that reads in many
        steps (a search: a dozen statements) checks a connection out, commits and hands it back
        once, not once a step. On PostgreSQL (read committed) each statement sees what is
        committed when it runs; on SQLite the block reads one snapshot, taken at its first
        read. Only reads belong here."""
        held = _SHARED.get()
        if held is not None and held[0] is self and held[1] is asyncio.current_task():
            yield
            return
        async with self.session() as session:
            token = _SHARED.set((self, asyncio.current_task(), session))
            try:
                yield
            finally:
                _SHARED.reset(token)

    @asynccontextmanager
    async def read_session(self, *, access: bool = False) -> AsyncIterator[AsyncSession]:
        """A session for reads: the one ``shared_reads`` holds for the calling task; else, in a
        request that tolerates stale reads, one on a read replica when one is fresh enough
        (``replicas``); else one of its own on the primary (like ``session``).

        ``access``: this read decides who may act (an access token, a block). A replica serves
        it only while within ``replicas.access_max_stale_s`` of the primary, even when the
        primary does not answer; with none that close and the primary unreachable, 503 at once."""
        held = _SHARED.get()
        if held is not None and held[0] is self and held[1] is asyncio.current_task():
            yield held[2]
            return
        reads = replication.may_read_stale()
        if self.replicas is not None and reads is not None:
            replica, reason = await self.replicas.choose(reads, access=access)
            if reason == "too_stale":
                replication.READS.labels("none", reason).inc()
                raise Unavailable("the primary database does not answer and no replica is recent enough "
                                  "to check who may do this", retry_after=5)
            if replica is not None:
                async with self.replicas.session(replica) as session:
                    if session is not None:
                        replication.READS.labels("replica", reason).inc()
                        yield session
                        return
                reason = "down"
            replication.READS.labels("primary", reason).inc()
        async with self.session() as session:
            yield session

    @asynccontextmanager
    async def shard_read(self, key: int, *, access: bool = False) -> AsyncIterator[AsyncSession]:
        """A session for reads on the shard that holds ``key``'s rows: with no shard databases
        of their own, that is ``read_session`` (a replica may serve; ``access`` as there: the
        read filters by who may see what); else the shard's primary."""
        if not self.shard_urls:
            async with self.read_session(access=access) as session:
                yield session
            return
        async with self.shard_session(key) as session:
            yield session

    async def primary_lsn(self) -> int:
        """The main database's current WAL position (PostgreSQL), to know when a replica has it."""
        async with self.engine.connect() as conn:
            return int(await conn.scalar(replication.PRIMARY_LSN))

    @asynccontextmanager
    async def shard_session(self, key: int) -> AsyncIterator[AsyncSession]:
        """A session on the shard that holds ``key``'s rows. While its virtual shard is being
        moved (the old database fenced, the map not switched yet) this waits for the move to
        end, up to ``MOVE_WAIT_S``, then answers 503."""
        if not self.fenced:
            async with _transaction(self._shard_sessions[self.router.database_for(key)]) as own:
                yield own
            return
        async with contextlib.aclosing(self._groups([key])) as groups:
            async for session, _keys in groups:
                yield session

    async def each_shard(self, keys: Iterable[int],
                         work: Callable[[AsyncSession, list[int]], Awaitable[T]]) -> list[T]:
        """``work(session, keys_there)`` once per shard database holding some of ``keys``, each
        in one transaction (committed when ``work`` returns, rolled back if it raises): a
        batch of keyed writes (counters, inboxes) checks out one connection per database."""
        done: list[T] = []
        async with contextlib.aclosing(self._groups(keys)) as groups:
            async for session, members in groups:
                done.append(await work(session, members))
        return done

    async def _groups(self, keys: Iterable[int]) -> AsyncGenerator[tuple[AsyncSession, list[int]], None]:
        """One transaction per shard database with the keys whose rows live there; each
        commits when the consumer asks for the next. With shard moves possible (``fenced``),
        keys whose virtual shard turns out to have moved are taken to their new database
        after the map is read again."""
        shard_of = {key: self.router.shard_of(key) for key in keys}
        pending = list(shard_of)
        deadline = time.monotonic() + MOVE_WAIT_S
        while pending:
            blocked: list[int] = []
            for index, members in self.router.group(pending).items():
                async with _transaction(self._shard_sessions[index]) as session:
                    if self.fenced:
                        gone = await self._enter(session, {shard_of[k] for k in members})
                        if gone:
                            blocked += [k for k in members if shard_of[k] in gone]
                            members = [k for k in members if shard_of[k] not in gone]
                    if members:
                        yield session, members
            pending = blocked
            if pending:
                await self._await_moves(pending, deadline)

    @staticmethod
    async def _enter(session: AsyncSession, shards: set[int]) -> set[int]:
        """Hold the shards' shared move locks for this transaction; those fenced here."""
        gone = await session.scalar(sa.text("SELECT clipfeed_shard_enter(:shards)"), {"shards": sorted(shards)})
        return set(gone or ())

    async def _await_moves(self, keys: list[int], deadline: float) -> None:
        """Keys found fenced: read the map again until it sends them elsewhere."""
        before = {k: self.router.database_for(k) for k in keys}
        while True:
            await self.load_shard_map()
            if any(self.router.database_for(k) != index for k, index in before.items()):
                return
            if time.monotonic() > deadline:
                raise Unavailable("a virtual shard is being moved to another database; retry shortly", retry_after=2)
            await asyncio.sleep(MOVE_POLL_S)

    async def load_shard_map(self) -> None:
        """Apply the pinned shard map (written by ``clipfeed shards move``) to the router."""
        if not self.fenced:
            return
        async with self.session() as session:
            rows = (await session.execute(sa.select(ShardAssignment.vshard, ShardAssignment.database))).all()
            if not rows:
                # First start with shard databases: pin the default ranges, so that appending a
                # shard URL later cannot silently send keys to a database without their rows.
                from sqlalchemy.dialects.postgresql import insert

                now = utcnow()
                await session.execute(insert(ShardAssignment).on_conflict_do_nothing(), [
                    {"vshard": shard, "database": index, "moved_at": now}
                    for shard, index in enumerate(self.router.table())])
                return
        self.router.assign({int(shard): int(index) for shard, index in rows})

    def shard_index(self, key: int) -> int:
        return self.router.database_for(key)

    @asynccontextmanager
    async def shard_session_at(self, index: int) -> AsyncIterator[AsyncSession]:
        """A session on shard database ``index`` (scatter-gather reads)."""
        async with _transaction(self._shard_sessions[index]) as session:
            yield session

    @asynccontextmanager
    async def shard_read_session(self, index: int) -> AsyncIterator[AsyncSession]:
        """A session for reads on shard database ``index``: with no shard databases of their
        own, the shards are the main database and ``read_session``'s session serves."""
        if not self.shard_urls:
            async with self.read_session() as session:
                yield session
            return
        async with self.shard_session_at(index) as session:
            yield session

    def shard_engine(self, index: int) -> AsyncEngine:
        return self._shard_engines[index]

    @property
    def shard_count(self) -> int:
        return len(self._shard_engines)

    async def ping(self) -> None:
        for engine in {id(e): e for e in [self.engine, *self._shard_engines]}.values():
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        if self.replicas is not None:
            await self.replicas.close()
        for engine in {id(e): e for e in [self.engine, *self._shard_engines]}.values():
            await engine.dispose()
