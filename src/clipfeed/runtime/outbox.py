"""Transactional outbox: events are written in the same transaction as the change they
describe, and published to the event log after commit by a relay.

Why not append to the log directly after commit: a process killed between the commit and the
append would lose the event, and counts, notifications and feeds would silently drift. With
the outbox the event is durable the moment the change is; a relay in any process publishes it
(at least once; consumers deduplicate by event ID) and then deletes the row. A row claimed by a
relay that died is claimed again once its claim lapses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.core.contract import EventType, P
from clipfeed.core.events import Event
from clipfeed.core.ids import IdGenerator
from clipfeed.infra.db import Base, Database, UTCDateTime, utcnow
from clipfeed.infra.log import EventLog, OutgoingRecord

log = structlog.get_logger(__name__)


class OutboxRow(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    topic: Mapped[str] = mapped_column(sa.String(100))
    key: Mapped[str] = mapped_column(sa.String(100))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    created_at: Mapped[Any] = mapped_column(UTCDateTime)
    claimed_until: Mapped[Any] = mapped_column(UTCDateTime, nullable=True, index=True)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)


class Outbox:
    CLAIM = timedelta(seconds=30)

    def __init__(self, *, db: Database, log: EventLog, ids: IdGenerator, region: str) -> None:
        self.db = db
        self.event_log = log
        self.ids = ids
        self.region = region
        self._wake = asyncio.Event()
        self._me = f"{os.getpid()}-{id(self):x}"
        self._flush_lock = asyncio.Lock()

    def record(self, session: AsyncSession, event_type: EventType[P], *, key: int | str, payload: P,
               actor_id: int | None = None) -> Event:
        """Stage an event in ``session``; it is published once the session commits."""
        event = event_type.event(id=self.ids.next_id(), key=key, payload=payload, actor_id=actor_id,
                                 region=self.region)
        session.add(OutboxRow(id=event.id, topic=event_type.topic, key=event.key, body=event.encode(),
                              created_at=utcnow()))
        self._wake_after_commit(session)
        return event

    async def stage(self, batches: Mapping[str, Sequence[OutgoingRecord]]) -> None:
        """Keep records meant for the log (topic -> records) in the outbox, in one transaction,
        for the relay to publish when the log takes them again (a writer whose direct append
        failed). Their bodies keep their own event IDs, by which consumers drop a record that
        reached them twice."""
        now = utcnow()
        async with self.db.session() as session:
            session.add_all([OutboxRow(id=self.ids.next_id(), topic=topic, key=(record.key or b"").decode(),
                                       body=record.value, created_at=now)
                             for topic, records in batches.items() for record in records])
            self._wake_after_commit(session)

    def _wake_after_commit(self, session: AsyncSession) -> None:
        """Wake the relay once ``session`` commits (one hook per session)."""
        sync_session = session.sync_session
        if not sync_session.info.get("outbox_hooked"):
            sync_session.info["outbox_hooked"] = True
            sa_event.listen(sync_session, "after_commit", lambda _s: self._wake.set(), once=True)

    async def flush(self, limit: int = 500) -> int:
        """Publish what is pending now; returns how many events went out."""
        async with self._flush_lock:
            total = 0
            while True:
                published = await self._flush_batch(limit)
                total += published
                if published < limit:
                    return total

    async def _flush_batch(self, limit: int) -> int:
        rows = await self._claim(limit)
        by_topic: dict[str, list[Any]] = defaultdict(list)
        for row in rows:
            by_topic[row.topic].append(row)
        published: list[int] = []
        try:
            for topic, topic_rows in by_topic.items():
                await self.event_log.append_batch(topic, [
                    OutgoingRecord(value=row.body, key=row.key.encode()) for row in topic_rows])
                published += [row.id for row in topic_rows]
        except Exception:
            # The log refused (an outage): what went out is deleted, the rest released, so the
            # next sweep tries it as soon as the log is back rather than after the claim lapses.
            sent = set(published)
            await self._settle(published, [r.id for r in rows if r.id not in sent])
            raise
        await self._settle(published, [])
        return len(rows)

    async def _settle(self, published: list[int], unpublished: list[int]) -> None:
        """Delete this relay's published rows and release its claim on the others. Should this
        fail (the database is down too), the claims lapse after ``CLAIM`` and the rows are
        published again, which consumers drop by event ID."""
        mine = OutboxRow.claimed_by == self._me
        try:
            async with self.db.session() as session:
                if published:
                    await session.execute(sa.delete(OutboxRow).where(OutboxRow.id.in_(published), mine))
                if unpublished:
                    await session.execute(sa.update(OutboxRow).where(OutboxRow.id.in_(unpublished), mine)
                                          .values(claimed_until=None, claimed_by=None))
        except Exception:
            if not unpublished:
                raise  # a plain flush keeps reporting a failed delete, as before
            log.warning("outbox.release_failed", rows=len(unpublished))

    async def _claim(self, limit: int) -> list[Any]:
        """Claim up to ``limit`` free rows in one statement, so no two relays get the same row.

        A select-then-update lets two relays read the same free rows before either writes its
        claim. Here the claim condition is re-checked by the UPDATE itself: SQLite runs one
        writer at a time, and PostgreSQL re-evaluates the WHERE on a row another transaction
        just changed (and SKIP LOCKED lets racing relays take different rows instead of
        queueing behind each other).
        """
        now = utcnow()
        lapsed = sa.or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now)
        free = sa.select(OutboxRow.id).where(lapsed).order_by(OutboxRow.id).limit(limit)
        if not self.db.is_sqlite:
            free = free.with_for_update(skip_locked=True)
        claim = (sa.update(OutboxRow)
                 .where(OutboxRow.id.in_(free.scalar_subquery()), lapsed)
                 .values(claimed_until=now + self.CLAIM, claimed_by=self._me)
                 .returning(OutboxRow.id, OutboxRow.topic, OutboxRow.key, OutboxRow.body))
        async with self.db.session() as session:
            # An idle sweep only reads: on SQLite an UPDATE takes the file's write lock even when
            # it changes nothing, and every process sweeps every second.
            if await session.scalar(sa.select(OutboxRow.id).where(lapsed).limit(1)) is None:
                return []
            rows = list((await session.execute(claim)).all())
        return sorted(rows, key=lambda row: row.id)

    async def run(self, stop: asyncio.Event, *, sweep_every: float = 1.0) -> None:
        """Relay loop: publish right after commits, and sweep for rows other relays left."""
        while not stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=sweep_every)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:  # keep relaying: the rows stay and are retried
                log.warning("outbox.flush_failed", error=str(exc))
                await asyncio.sleep(sweep_every)
