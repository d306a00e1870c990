"""The metadata store's databases: the main one and its read replicas, and the shard databases
(``shards``), each with read replicas of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from clipfeed.infra.db import replicas as replication
from clipfeed.infra.db.engine import RESTART_BREAKER_OPEN_S, RESTART_WAIT_S, make_engine, scheme_of, watch_of
from clipfeed.infra.db.sessions import ClipfeedSession, sessions, transaction
from clipfeed.infra.db.shards import ShardRouting

# The session ``Database.shared_reads`` opened: its database, the task that opened it, the session.
_SHARED: ContextVar[tuple[Database, asyncio.Task[Any] | None, AsyncSession] | None] = ContextVar(
    "clipfeed_shared_reads", default=None)


def _postgres(url: str) -> bool:
    return scheme_of(url) in ("postgresql", "postgres")


class Database(ShardRouting):
    """The main database plus the shard databases, with one router over the shards."""

    def __init__(self, url: str, *, shard_urls: list[str] | None = None,
                 virtual_shards: int = 1024, pool_size: int = 10,
                 replica_urls: list[str] | None = None, shard_replica_urls: Sequence[Sequence[str]] | None = None,
                 replica_max_lag_s: float = 2.0, replica_access_max_stale_s: float = 60.0,
                 restart_wait_s: float = RESTART_WAIT_S,
                 restart_breaker_open_s: float = RESTART_BREAKER_OPEN_S) -> None:
        self.url = url
        waits = {"restart_wait_s": restart_wait_s, "restart_breaker_open_s": restart_breaker_open_s}
        self.engine = make_engine(url, pool_size=pool_size, **waits)
        self._sessions = sessions(self.engine)
        shard_urls = list(shard_urls or [])
        shard_engines = [make_engine(u, pool_size=pool_size, **waits) for u in shard_urls]
        super().__init__(shard_urls, shard_engines or [self.engine], virtual_shards=virtual_shards,
                         # Shard moves (``clipfeed shards move``) need PostgreSQL shard databases.
                         fenced=bool(shard_urls) and all(map(_postgres, [url, *shard_urls])))
        given = [list(urls) for urls in shard_replica_urls or []]
        if given and len(given) != len(shard_urls):
            raise ValueError(f"replica URLs are given for {len(given)} shard databases, but there are "
                             f"{len(shard_urls)}: one list per shard database, in the same order")
        given = given or [[] for _ in shard_urls]
        bounds = {"max_lag_s": replica_max_lag_s, "access_max_stale_s": replica_access_max_stale_s}
        self.replicas = self._replica_set("main", url, self.engine, replica_urls or [], pool_size, bounds)
        self.shard_replicas = [self._replica_set(f"shard{index}", shard_url, self._shard_engines[index], urls,
                                                 pool_size, bounds)
                               for index, (shard_url, urls) in enumerate(zip(shard_urls, given, strict=True))]
        self.shard_replicas += [None] * (self.shard_count - len(self.shard_replicas))
        if self.replica_sets:
            # A write to any primary sends the request's later reads to the primaries, and the
            # HTTP layer records that primary's position for the caller.
            for name, engine in self._primaries().items():
                event.listen(engine.sync_engine, "before_cursor_execute",
                             lambda _conn, _cursor, statement, *_, name=name: replication.note_statement(
                                 statement, name))

    @staticmethod
    def _replica_set(name: str, primary_url: str, primary: AsyncEngine, urls: list[str], pool_size: int,
                     bounds: dict[str, float]) -> replication.ReplicaSet | None:
        if not urls:
            return None
        where = "the main database" if name == "main" else f"shard database {name.removeprefix('shard')}"
        if not _postgres(primary_url):
            raise ValueError(f"read replicas need PostgreSQL: {where} is not")
        for url in urls:
            if not _postgres(url):
                raise ValueError(f"a read replica of {where} must be a PostgreSQL URL: {url.split('://', 1)[0]}://…")
        # A replica that does not answer is skipped for the primary: no wait for its restart.
        engines = [make_engine(u, pool_size=pool_size, restart_wait_s=0) for u in urls]
        return replication.ReplicaSet(primary, [
            replication.Replica(e.url.render_as_string(hide_password=True), e,
                                async_sessionmaker(e, class_=ClipfeedSession, expire_on_commit=False))
            for e in engines], name=name, **bounds)

    def _primaries(self) -> dict[str, AsyncEngine]:
        """Each primary by the name its replica set and the writers' positions use."""
        named = {"main": self.engine}
        if self.shard_urls:
            named.update({f"shard{index}": engine for index, engine in enumerate(self._shard_engines)})
        return named

    @property
    def replica_sets(self) -> dict[str, replication.ReplicaSet]:
        """The replica sets there are, by database name (``main``, ``shard0``, ...)."""
        sets = {"main": self.replicas, **{f"shard{i}": s for i, s in enumerate(self.shard_replicas)}}
        return {name: found for name, found in sets.items() if found is not None}

    def restarting(self) -> bool:
        """One of this process's PostgreSQL databases refuses connections as a restarting server
        does, since less than its restart wait: requests wait for it (``restarts``)."""
        return any(watch.restarting() for watch in
                   {id(w): w for w in map(watch_of, [self.engine, *self._shard_engines]) if w is not None}.values())

    @property
    def is_sqlite(self) -> bool:
        return scheme_of(self.url) == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session on the main database; commits on success, rolls back on error."""
        async with transaction(self._sessions) as session:
            yield session

    @asynccontextmanager
    async def shared_reads(self) -> AsyncIterator[None]:
        """Inside this block, ``read_session`` on this database gives one session (one
        connection) to the task that opened it: a request that reads in many steps (a search:
        a dozen statements) checks a connection out and hands it back once, not once a step.
        Each statement sees what is committed when it runs: on PostgreSQL the session runs in
        autocommit (no BEGIN and COMMIT round trips around the reads), and SQLite opens no
        transaction for a read. Only reads belong here."""
        held = _SHARED.get()
        if held is not None and held[0] is self and held[1] is asyncio.current_task():
            yield
            return
        async with self.session() as session:
            if isinstance(session, ClipfeedSession):
                await session.autocommit_reads()
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
            async with self.replicas.reading(reads, access=access) as session:
                if session is not None:
                    yield session
                    return
        async with self.session() as session:
            yield session

    async def ping(self) -> None:
        for engine in {id(e): e for e in [self.engine, *self._shard_engines]}.values():
            async with engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))

    async def close(self) -> None:
        for replicas in self.replica_sets.values():
            await replicas.close()
        for engine in {id(e): e for e in [self.engine, *self._shard_engines]}.values():
            await engine.dispose()
