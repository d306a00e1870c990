"""Engines for the metadata store: URLs to drivers, connection settings, and connects guarded by
a breaker and a restart watch. Sessions are in ``sessions``, the databases in ``database``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from clipfeed.infra.breaker import BREAKERS, Breaker, BreakerOpen
from clipfeed.infra.db import restarts
from clipfeed.infra.db.sqlite_driver import OneTripDBAPI


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].split("+", 1)[0]


def async_url(url: str) -> str:
    """Our URLs name the engine only (``sqlite://``, ``postgresql://``); pick the driver."""
    return _with_driver(url, sqlite="sqlite+aiosqlite")


def sync_url(url: str) -> str:
    return _with_driver(url, sqlite="sqlite")


def _with_driver(url: str, *, sqlite: str) -> str:
    scheme = scheme_of(url)
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


def _skip_empty_endings(engine: AsyncEngine) -> None:
    """No COMMIT or ROLLBACK sent when SQLite has no transaction open. Python's sqlite3 opens
    one before a write only, so a session that only read (most of them: a search, a feed page,
    every pooled connection's reset on return) has nothing to end; yet through aiosqlite each
    ending is a hand-off to the connection's thread and back (0.3-0.6 ms of CPU), two a
    session. Asked of the sqlite3 connection itself, so a write's transaction always ends."""
    dialect = engine.sync_engine.dialect
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def open_transaction(dbapi_connection: Any) -> bool:
        try:
            return bool(dbapi_connection._connection._conn.in_transaction)  # adapter → aiosqlite → sqlite3
        except Exception:  # closed or not aiosqlite's: let the driver decide
            return True

    def do_commit(dbapi_connection: Any) -> None:
        if open_transaction(dbapi_connection):
            commit(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        if open_transaction(dbapi_connection):
            rollback(dbapi_connection)

    dialect.do_commit = do_commit  # type: ignore[method-assign]
    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


# How long a transaction waits for a restarting server (``restarts``; CLIPFEED_DATABASE_RESTART_WAIT_S).
RESTART_WAIT_S = 10.0
RESTART_BREAKER_OPEN_S = 1.0  # CLIPFEED_DATABASE_RESTART_BREAKER_OPEN_S


def make_engine(url: str, *, pool_size: int = 10, restart_wait_s: float = RESTART_WAIT_S,
                restart_breaker_open_s: float = RESTART_BREAKER_OPEN_S) -> AsyncEngine:
    scheme = scheme_of(url)
    if scheme == "sqlite":
        path = url.split("://", 1)[1].lstrip("/")
        if path and path != ":memory:":
            Path("/" + path).parent.mkdir(parents=True, exist_ok=True)
        # One trip to aiosqlite's thread a statement, not four (``sqlite_driver``).
        engine = create_async_engine(async_url(url), module=OneTripDBAPI.make(),
                                     connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        _skip_empty_endings(engine)
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
    if scheme_of(str(engine.url)) != "postgresql":
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
