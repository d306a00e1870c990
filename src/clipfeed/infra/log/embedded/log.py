"""Embedded event log: topics, partitions and consumer groups in one SQLite file (WAL).

Several processes on one machine (the API server and the workers) open the same directory and
share the log: SQLite's write lock serialises their transactions, offsets are assigned inside
them, and consumers of one process see another's appends by polling. Within a process all
writes go through one thread that group-commits (see ``writer``), and consumers wait
on an in-process signal raised after each commit that touched their topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import orjson

from clipfeed.core.errors import Invalid, NotFound
from clipfeed.infra.log import OutgoingRecord, Position, Record, TopicSpec, partition_for
from clipfeed.infra.log.embedded import groups as groups
from clipfeed.infra.log.embedded import store as store
from clipfeed.infra.log.embedded.store import to_record
from clipfeed.infra.log.embedded.writer import Reader, Watcher, Writer
from clipfeed.infra.log.membership import default_member_id
from clipfeed.infra.log.names import check_group, check_topic

if TYPE_CHECKING:
    from clipfeed.infra.log.embedded.consumer import EmbeddedConsumer

log = logging.getLogger(__name__)

DB_NAME = "events.sqlite3"
RETENTION_EVERY_S = 60.0
TAIL_BATCH = 500
TAIL_POLL_S = 0.25  # the watcher wakes a tail on other processes' commits; this is a backstop
WATCH_S = 0.025  # how soon another process's append is noticed


def encode_headers(headers: dict[str, str] | None) -> bytes | None:
    return orjson.dumps(headers) if headers else None


class EmbeddedEventLog:
    """``embedded:///abs/dir``: the default event log, needing nothing installed."""

    def __init__(self, directory: Path) -> None:
        self.url = f"embedded://{directory}"
        self._path = directory / DB_NAME
        self._loop = asyncio.get_running_loop()
        self._signals: dict[str, asyncio.Event] = {}
        self._tail_signals: dict[str, set[asyncio.Event]] = {}
        self._writer = Writer(self._path, self._on_commit)
        self._reader = Reader(self._path)
        self._watcher: Watcher | None = None  # started once the file exists (``open``)
        self._topics: dict[str, store.TopicRow] = {}
        self._round_robin: dict[str, int] = {}
        self._consumers: set[EmbeddedConsumer] = set()
        self._last_retention = time.monotonic()
        self._retention: asyncio.Future[int] | None = None

    @classmethod
    async def open(cls, url: str) -> EmbeddedEventLog:
        parts = urlsplit(url)
        if parts.scheme != "embedded" or parts.netloc or not parts.path.startswith("/"):
            raise ValueError(f"expected embedded:///absolute/directory, got {url!r}")
        directory = Path(unquote(parts.path))
        directory.mkdir(parents=True, exist_ok=True)
        event_log = cls(directory)
        await event_log._writer.submit(store.create_schema)
        event_log._watcher = Watcher(event_log._path, WATCH_S, event_log._on_foreign_commit)
        return event_log

    # -- topics and appends ----------------------------------------------------------------

    async def ensure_topic(self, spec: TopicSpec) -> None:
        check_topic(spec.name)
        if spec.partitions < 1:
            raise Invalid("a topic needs at least one partition")
        self._topics[spec.name] = await self._writer.submit(
            lambda conn: store.ensure_topic(conn, spec.name, spec.partitions, _age_ms(spec), spec.max_bytes,
                                            update=True))

    async def append(self, topic: str, value: bytes, *, key: bytes | None = None,
                     headers: dict[str, str] | None = None) -> Position:
        (position,) = await self.append_batch(topic, [OutgoingRecord(value, key, headers or {})])
        return position

    async def append_batch(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        if not records:
            return []
        info = await self.topic(topic, create=True)
        start = self._round_robin.get(topic, 0)
        self._round_robin[topic] = start + len(records)
        rows = [(partition_for(r.key, info.partitions, start + i), r.key, r.value, encode_headers(r.headers))
                for i, r in enumerate(records)]
        positions = await self._writer.submit(lambda conn: store.append(conn, info.id, rows), wake=topic)
        self._maybe_enforce_retention()
        return [Position(p, o) for p, o in positions]

    # -- replay ----------------------------------------------------------------------------

    async def read(self, topic: str, partition: int, *, from_offset: int | None = None,
                   from_time: datetime | None = None, limit: int = 1000) -> list[Record]:
        if from_offset is not None and from_time is not None:
            raise Invalid("read from an offset or from a time, not both")
        info = await self.topic(topic)
        self._check_partition(info, partition)
        at_ms = None if from_time is None else int(from_time.timestamp() * 1000)

        def run(conn: sqlite3.Connection) -> list[store.RecordRow]:
            start = from_offset or 0
            if at_ms is not None:
                start = store.offset_at_time(conn, info.id, partition, at_ms)
            return store.read(conn, info.id, partition, start, limit)

        return [to_record(topic, row) for row in await self._reader.run(run)]

    async def tail(self, topic: str) -> AsyncIterator[Record]:
        info = await self.topic(topic, create=True)
        positions = await self.end_offsets(topic)
        signal = asyncio.Event()  # our own: consumers clear the shared one
        self._tail_signals.setdefault(topic, set()).add(signal)

        def fresh(conn: sqlite3.Connection) -> list[store.RecordRow]:
            rows: list[store.RecordRow] = []
            for partition, start in positions.items():
                rows += store.read(conn, info.id, partition, start, TAIL_BATCH)
            return rows

        async def records() -> AsyncIterator[Record]:
            try:
                while True:
                    signal.clear()
                    rows = await self._reader.run(fresh)
                    for row in rows:
                        positions[row[0]] = row[1] + 1
                        yield to_record(topic, row)
                    if not rows:
                        # Woken at once by this process's appends, and by the watcher for others'.
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(signal.wait(), TAIL_POLL_S)
            finally:
                self._tail_signals.get(topic, set()).discard(signal)

        return records()

    async def partitions(self, topic: str) -> int:
        return (await self.topic(topic)).partitions

    async def end_offsets(self, topic: str) -> dict[int, int]:
        info = await self.topic(topic)
        return await self._reader.run(lambda conn: store.end_offsets(conn, info.id))

    # -- consumer groups -------------------------------------------------------------------

    async def consumer(self, topic: str, group: str, *, shared: bool = True, ack_wait: float = 30.0,
                       max_in_flight: int = 1000, member_id: str | None = None) -> EmbeddedConsumer:
        from clipfeed.infra.log.embedded.consumer import EmbeddedConsumer

        check_group(group)
        if ack_wait <= 0 or max_in_flight < 1:
            raise Invalid("ack_wait must be positive and max_in_flight at least 1")
        info = await self.topic(topic, create=True)
        group_id = await self._writer.submit(lambda conn: groups.join(conn, info.id, group, shared))
        member = EmbeddedConsumer(self, info, group_id, shared=shared, ack_wait=ack_wait,
                                  max_in_flight=max_in_flight, member_id=member_id or default_member_id())
        await member.start()
        self._consumers.add(member)
        return member

    async def committed(self, topic: str, group: str) -> dict[int, int]:
        info = await self.topic(topic)

        def run(conn: sqlite3.Connection) -> dict[int, int]:
            return groups.committed(conn, info.id, groups.find(conn, info.id, group), info.partitions)

        return await self._reader.run(run)

    async def seek_group(self, topic: str, group: str, *, to_offset: dict[int, int] | None = None,
                         to_time: datetime | None = None) -> None:
        if (to_offset is None) == (to_time is None):
            raise Invalid("seek a group to offsets or to a time")
        info = await self.topic(topic)
        at_ms = None if to_time is None else int(to_time.timestamp() * 1000)

        def run(conn: sqlite3.Connection) -> None:
            group_id = groups.find(conn, info.id, group)
            offsets = dict(to_offset or {})
            if at_ms is not None:
                offsets = {p: store.offset_at_time(conn, info.id, p, at_ms) for p in range(info.partitions)}
            groups.seek(conn, group_id, {p: o for p, o in offsets.items() if 0 <= p < info.partitions})

        await self._writer.submit(run, wake=topic)

    # -- upkeep ----------------------------------------------------------------------------

    async def enforce_retention(self) -> int:
        self._last_retention = time.monotonic()
        return await self._writer.submit(_enforce_all)

    async def ping(self) -> None:
        await self._reader.run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def close(self) -> None:
        for member in list(self._consumers):
            with contextlib.suppress(Exception):
                await member.close()
        if self._watcher is not None:
            await asyncio.to_thread(self._watcher.close)
        await asyncio.to_thread(self._writer.close)
        await asyncio.to_thread(self._reader.close)

    # -- shared with consumers -------------------------------------------------------------

    async def topic(self, name: str, *, create: bool = False) -> store.TopicRow:
        """The topic's row (cached: ids and partition counts never change)."""
        cached = self._topics.get(name)
        if cached is not None:
            return cached
        check_topic(name)
        if create:
            spec = TopicSpec(name)
            info: store.TopicRow | None = await self._writer.submit(
                lambda conn: store.ensure_topic(conn, name, spec.partitions, _age_ms(spec), spec.max_bytes,
                                                update=False))
        else:
            info = await self._reader.run(lambda conn: store.load_topic(conn, name))
        if info is None:
            raise NotFound(f"no topic {name!r}")
        self._topics[name] = info
        return info

    @property
    def writer(self) -> Writer:
        return self._writer

    @property
    def reader(self) -> Reader:
        return self._reader

    def signal(self, topic: str) -> asyncio.Event:
        """Set after every commit that may have made records of ``topic`` deliverable."""
        return self._signals.setdefault(topic, asyncio.Event())

    def forget(self, member: EmbeddedConsumer) -> None:
        self._consumers.discard(member)

    def _on_commit(self, topics: set[str]) -> None:  # runs on the writer thread
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._wake, topics)

    def _on_foreign_commit(self) -> None:  # runs on the watcher thread
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        self._wake(set(self._signals) | set(self._tail_signals))

    def _wake(self, topics: set[str]) -> None:
        for topic in topics:
            self.signal(topic).set()
            for tail_signal in self._tail_signals.get(topic, ()):
                tail_signal.set()

    def _maybe_enforce_retention(self) -> None:
        # Opportunistic: appenders trigger it now and then so no separate job is needed.
        if time.monotonic() - self._last_retention < RETENTION_EVERY_S:
            return
        if self._retention is not None and not self._retention.done():
            return
        self._last_retention = time.monotonic()
        self._retention = self._writer.submit(_enforce_all)
        self._retention.add_done_callback(_log_retention)

    @staticmethod
    def _check_partition(info: store.TopicRow, partition: int) -> None:
        if not 0 <= partition < info.partitions:
            raise Invalid(f"topic {info.name!r} has partitions 0..{info.partitions - 1}, not {partition}")


def _age_ms(spec: TopicSpec) -> int | None:
    return None if spec.max_age is None else int(spec.max_age.total_seconds() * 1000)


def _enforce_all(conn: sqlite3.Connection) -> int:
    rows = conn.execute("SELECT id, name, partitions, max_age_ms, max_bytes FROM topics").fetchall()
    return sum(store.enforce_retention(conn, store.TopicRow(*row)) for row in rows)


def _log_retention(future: asyncio.Future[int]) -> None:
    if future.cancelled():
        return
    if future.exception() is not None:
        log.warning("event log retention failed: %s", future.exception())
    elif future.result():
        log.info("event log retention dropped %d records", future.result())
