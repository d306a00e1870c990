"""The shard databases' half of ``Database``: the router over the shard databases, the fences
that turn a transaction away from a virtual shard moved elsewhere (``moves``), and reads on
a shard database's read replicas.

A shard database's replica reads its shard's rows as the main database's replicas read theirs
(``replicas``), with two more conditions that come from shard moves:

* the replica has replayed the position its primary had once the last virtual shard moved
  there had arrived (``shard_map.arrived_lsn``, written by the move's switch): a replica that
  has not shows nothing, not merely something old, for that shard;
* the replica does not hold a fence for the shard (``shard_fences``): the shard was moved
  away, and the replica may have replayed the deletion of its rows. Such a read goes to the
  primary path, which finds the fence there too and reads the map again. The fence is written
  before the switch and the deletion after it, so a replica that has replayed the deletion
  shows the fence; one that has not still holds the rows, as they were a moment ago.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from clipfeed.core.errors import Unavailable
from clipfeed.core.sharding import ShardRouter
from clipfeed.infra.db import replicas as replication
from clipfeed.infra.db.base import utcnow
from clipfeed.infra.db.sessions import sessions, transaction
from clipfeed.infra.db.shardmap import ShardAssignment, ShardFence

T = TypeVar("T")

# How long a shard write waits for a move of its virtual shard to switch over, and how often it
# reads the map meanwhile (a move's final step takes well under a second for 100k rows).
MOVE_WAIT_S = 30.0
MOVE_POLL_S = 0.05


class ShardRouting:
    """The shard databases (the main database when there are none), the router over them, and
    their read replicas (``shard_replicas``, set by ``Database``)."""

    def __init__(self, shard_urls: list[str], engines: list[AsyncEngine], *, virtual_shards: int,
                 fenced: bool) -> None:
        self.shard_urls = shard_urls
        self._shard_engines = engines
        self._shard_sessions = [sessions(e) for e in engines]
        self.router = ShardRouter(databases=len(engines), virtual_shards=virtual_shards)
        # With shard moves possible, every shard transaction checks its virtual shards' fences (``_enter``).
        self.fenced = fenced
        self.shard_replicas: list[replication.ReplicaSet | None] = [None] * len(engines)
        # Per shard database: the position its replicas must have replayed (``shard_map.arrived_lsn``).
        self._arrived = [0] * len(engines)

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A session on the main database (``Database``)."""
        raise NotImplementedError

    def read_session(self, *, access: bool = False) -> AbstractAsyncContextManager[AsyncSession]:
        """A session for reads on the main database (``Database``)."""
        raise NotImplementedError

    @asynccontextmanager
    async def shard_read(self, key: int, *, access: bool = False) -> AsyncIterator[AsyncSession]:
        """A session for reads on the shard that holds ``key``'s rows: with no shard databases
        of their own, that is ``read_session``; else one on a replica of the shard's database
        when the request tolerates stale reads and one may serve (``replicas``; ``access`` as
        there: the read filters by who may see what), else the shard's primary."""
        if not self.shard_urls:
            async with self.read_session(access=access) as session:
                yield session
            return
        index, shard = self.router.database_for(key), self.router.shard_of(key)
        async with self._replica_read(index, {shard}, access=access) as replica:
            if replica is not None:
                yield replica
                return
        async with self.shard_session(key) as session:
            yield session

    @asynccontextmanager
    async def shard_read_session(self, index: int) -> AsyncIterator[AsyncSession]:
        """A session for reads on shard database ``index`` (scatter-gather reads): with no shard
        databases of their own, ``read_session``'s; else one on its replica as ``shard_read``
        gives, or one on its primary."""
        if not self.shard_urls:
            async with self.read_session() as session:
                yield session
            return
        async with self._replica_read(index, set(self.router.shards_of(index))) as replica:
            if replica is not None:
                yield replica
                return
        async with self.shard_session_at(index) as session:
            yield session

    @asynccontextmanager
    async def _replica_read(self, index: int, shards: set[int], *,
                            access: bool = False) -> AsyncIterator[AsyncSession | None]:
        """A session on a replica of shard database ``index`` fit to read ``shards`` there, or
        None (read the primary)."""
        replicas, reads = self.shard_replicas[index], replication.may_read_stale()
        if replicas is None or reads is None:
            yield None
            return
        fenced = self._fenced_among(shards) if self.fenced else None
        async with replicas.reading(reads, access=access, floor=self._arrived[index], fenced=fenced) as session:
            yield session

    @staticmethod
    def _fenced_among(shards: set[int]) -> Callable[[AsyncSession], Awaitable[bool]]:
        async def fenced(session: AsyncSession) -> bool:
            return not shards.isdisjoint((await session.scalars(sa.select(ShardFence.vshard))).all())
        return fenced

    @asynccontextmanager
    async def shard_session(self, key: int) -> AsyncIterator[AsyncSession]:
        """A session on the shard that holds ``key``'s rows. While its virtual shard is being
        moved (the old database fenced, the map not switched yet) this waits for the move to
        end, up to ``MOVE_WAIT_S``, then answers 503."""
        if not self.fenced:
            async with transaction(self._shard_sessions[self.router.database_for(key)]) as own:
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
                async with transaction(self._shard_sessions[index]) as session:
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
            rows = (await session.execute(sa.select(ShardAssignment.vshard, ShardAssignment.database,
                                                    ShardAssignment.arrived_lsn))).all()
            if not rows:
                # First start with shard databases: pin the default ranges, so that appending a
                # shard URL later cannot silently send keys to a database without their rows.
                from sqlalchemy.dialects.postgresql import insert

                now = utcnow()
                await session.execute(insert(ShardAssignment).on_conflict_do_nothing(), [
                    {"vshard": shard, "database": index, "moved_at": now}
                    for shard, index in enumerate(self.router.table())])
                return
        self.router.assign({int(shard): int(index) for shard, index, _lsn in rows})
        arrived = [0] * self.shard_count
        for _shard, index, lsn in rows:
            arrived[int(index)] = max(arrived[int(index)], int(lsn or 0))
        self._arrived = arrived

    def shard_index(self, key: int) -> int:
        return self.router.database_for(key)

    @asynccontextmanager
    async def shard_session_at(self, index: int) -> AsyncIterator[AsyncSession]:
        """A session on shard database ``index`` (scatter-gather reads)."""
        async with transaction(self._shard_sessions[index]) as session:
            yield session

    def shard_engine(self, index: int) -> AsyncEngine:
        return self._shard_engines[index]

    @property
    def shard_count(self) -> int:
        return len(self._shard_engines)
