"""The embedded log's tables and the SQL on them (records, partitions and retention).

Synchronous functions of a ``sqlite3.Connection``; the writer thread runs the changing ones
inside its group-commit transaction, the reader thread runs the rest. Consumer-group SQL lives
in ``embedded_groups.py``.

Offsets are contiguous per partition from 0 and retention only ever drops a prefix, so the
retained records of a partition are exactly ``[first, next_offset)``. Timestamps are taken
under the write lock and never go backwards within a partition, which lets time lookups
binary-search on offsets instead of keeping a second index on time.
"""

from __future__ import annotations

import heapq
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from clipfeed.infra.log import Record

SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    partitions INTEGER NOT NULL,
    max_age_ms INTEGER,
    max_bytes INTEGER
);
CREATE TABLE IF NOT EXISTS partitions (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL DEFAULT 0,
    last_ms INTEGER NOT NULL DEFAULT 0,
    bytes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (topic_id, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    topic_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    key BLOB,
    value BLOB NOT NULL,
    headers BLOB,
    PRIMARY KEY (topic_id, partition, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS groups (
    id INTEGER PRIMARY KEY,
    topic_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    shared INTEGER NOT NULL,
    membership BLOB,
    UNIQUE (topic_id, name)
);
CREATE TABLE IF NOT EXISTS cursors (
    group_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    group_id INTEGER NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    member TEXT,
    deadline_ms INTEGER NOT NULL,
    deliveries INTEGER NOT NULL,
    PRIMARY KEY (group_id, partition, offset)
) WITHOUT ROWID;
"""

# Bytes a record counts for retention: payload, key and encoded headers.
SIZE_SQL = "length(value) + coalesce(length(key), 0) + coalesce(length(headers), 0)"
RECORD_COLUMNS = "partition, offset, ts_ms, key, value, headers"
RecordRow = tuple[int, int, int, bytes | None, bytes, bytes | None]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class TopicRow:
    id: int
    name: str
    partitions: int
    max_age_ms: int | None
    max_bytes: int | None


def create_schema(conn: sqlite3.Connection) -> None:
    # Statement by statement: ``executescript`` would commit the writer's open transaction.
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def load_topic(conn: sqlite3.Connection, name: str) -> TopicRow | None:
    row = conn.execute("SELECT id, name, partitions, max_age_ms, max_bytes FROM topics WHERE name = ?",
                       (name,)).fetchone()
    return None if row is None else TopicRow(*row)


def ensure_topic(conn: sqlite3.Connection, name: str, partitions: int, max_age_ms: int | None,
                 max_bytes: int | None, update: bool) -> TopicRow:
    """Create the topic, or (when ``update``) change its retention; partitions stay as created."""
    existing = load_topic(conn, name)
    if existing is None:
        cur = conn.execute("INSERT INTO topics (name, partitions, max_age_ms, max_bytes) VALUES (?, ?, ?, ?)",
                           (name, partitions, max_age_ms, max_bytes))
        topic_id = cur.lastrowid
        conn.executemany("INSERT INTO partitions (topic_id, partition) VALUES (?, ?)",
                         [(topic_id, p) for p in range(partitions)])
    elif update:
        conn.execute("UPDATE topics SET max_age_ms = ?, max_bytes = ? WHERE id = ?",
                     (max_age_ms, max_bytes, existing.id))
    topic = load_topic(conn, name)
    assert topic is not None
    return topic


def append(conn: sqlite3.Connection, topic_id: int,
           rows: Sequence[tuple[int, bytes | None, bytes, bytes | None]]) -> list[tuple[int, int]]:
    """Insert ``(partition, key, value, headers)`` rows in order; returns their (partition, offset)."""
    state = {p: [nxt, last] for p, nxt, last in conn.execute(
        "SELECT partition, next_offset, last_ms FROM partitions WHERE topic_id = ?", (topic_id,))}
    ts = now_ms()
    added: dict[int, int] = {}
    params = []
    positions = []
    for partition, key, value, headers in rows:
        slot = state[partition]
        offset, slot[0] = slot[0], slot[0] + 1
        slot[1] = max(ts, slot[1])  # a clock step back must not reorder time within a partition
        params.append((topic_id, partition, offset, slot[1], key, value, headers))
        positions.append((partition, offset))
        size = len(value) + (len(key) if key else 0) + (len(headers) if headers else 0)
        added[partition] = added.get(partition, 0) + size
    conn.executemany("INSERT INTO records (topic_id, partition, offset, ts_ms, key, value, headers) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", params)
    conn.executemany("UPDATE partitions SET next_offset = ?, last_ms = ?, bytes = bytes + ? "
                     "WHERE topic_id = ? AND partition = ?",
                     [(state[p][0], state[p][1], size, topic_id, p) for p, size in added.items()])
    return positions


def partition_bounds(conn: sqlite3.Connection, topic_id: int, partition: int) -> tuple[int, int]:
    """``(first retained offset, next offset)``; equal when the partition is empty."""
    row = conn.execute("SELECT next_offset FROM partitions WHERE topic_id = ? AND partition = ?",
                       (topic_id, partition)).fetchone()
    nxt = row[0] if row else 0
    first = conn.execute("SELECT offset FROM records WHERE topic_id = ? AND partition = ? "
                         "ORDER BY offset LIMIT 1", (topic_id, partition)).fetchone()
    return (first[0] if first else nxt), nxt


def offset_at_time(conn: sqlite3.Connection, topic_id: int, partition: int, at_ms: int) -> int:
    """The first offset whose timestamp is ``>= at_ms`` (the next offset when there is none)."""
    lo, hi = partition_bounds(conn, topic_id, partition)
    while lo < hi:
        mid = (lo + hi) // 2
        (ts,) = conn.execute("SELECT ts_ms FROM records WHERE topic_id = ? AND partition = ? AND offset = ?",
                             (topic_id, partition, mid)).fetchone()
        if ts >= at_ms:
            hi = mid
        else:
            lo = mid + 1
    return lo


def read(conn: sqlite3.Connection, topic_id: int, partition: int, from_offset: int,
         limit: int) -> list[RecordRow]:
    return conn.execute(f"SELECT {RECORD_COLUMNS} FROM records WHERE topic_id = ? AND partition = ? "
                        "AND offset >= ? ORDER BY offset LIMIT ?",
                        (topic_id, partition, from_offset, limit)).fetchall()


def end_offsets(conn: sqlite3.Connection, topic_id: int) -> dict[int, int]:
    return dict(conn.execute("SELECT partition, next_offset FROM partitions WHERE topic_id = ?", (topic_id,)))


def enforce_retention(conn: sqlite3.Connection, topic: TopicRow) -> int:
    """Drop records older than the topic's max age, then the oldest records (across all
    partitions, by time) until the topic fits in its max bytes. Returns how many went."""
    dropped = 0
    if topic.max_age_ms is not None:
        cutoff = now_ms() - topic.max_age_ms
        for partition in range(topic.partitions):
            dropped += _drop_prefix(conn, topic.id, partition,
                                    offset_at_time(conn, topic.id, partition, cutoff))
    if topic.max_bytes is not None:
        (total,) = conn.execute("SELECT coalesce(sum(bytes), 0) FROM partitions WHERE topic_id = ?",
                                (topic.id,)).fetchone()
        excess = total - topic.max_bytes
        if excess > 0:
            cut: dict[int, int] = {}
            oldest = [_oldest_first(conn, topic.id, p) for p in range(topic.partitions)]
            for _, partition, offset, size in heapq.merge(*oldest):
                cut[partition] = offset + 1
                excess -= size
                if excess <= 0:
                    break
            for partition, upto in cut.items():
                dropped += _drop_prefix(conn, topic.id, partition, upto)
    return dropped


def _oldest_first(conn: sqlite3.Connection, topic_id: int, partition: int,
                  page: int = 1000) -> Iterator[tuple[int, int, int, int]]:
    """``(ts, partition, offset, size)`` of a partition's records, oldest first, read in pages."""
    after = -1
    while True:
        rows = conn.execute(f"SELECT ts_ms, partition, offset, {SIZE_SQL} FROM records "
                            "WHERE topic_id = ? AND partition = ? AND offset > ? ORDER BY offset LIMIT ?",
                            (topic_id, partition, after, page)).fetchall()
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1][2]


def _drop_prefix(conn: sqlite3.Connection, topic_id: int, partition: int, upto: int) -> int:
    """Delete a partition's records below offset ``upto`` and any lease pointing at them."""
    count, size = conn.execute(f"SELECT count(*), coalesce(sum({SIZE_SQL}), 0) FROM records "
                               "WHERE topic_id = ? AND partition = ? AND offset < ?",
                               (topic_id, partition, upto)).fetchone()
    if not count:
        return 0
    conn.execute("DELETE FROM records WHERE topic_id = ? AND partition = ? AND offset < ?",
                 (topic_id, partition, upto))
    conn.execute("UPDATE partitions SET bytes = bytes - ? WHERE topic_id = ? AND partition = ?",
                 (size, topic_id, partition))
    conn.execute("DELETE FROM pending WHERE partition = ? AND offset < ? "
                 "AND group_id IN (SELECT id FROM groups WHERE topic_id = ?)", (partition, upto, topic_id))
    return int(count)


def to_record(topic: str, row: RecordRow, deliveries: int = 1) -> Record:
    partition, offset, ts_ms, key, value, headers = row
    return Record(topic=topic, partition=partition, offset=offset,
                  timestamp=datetime.fromtimestamp(ts_ms / 1000, UTC), key=key, value=value,
                  headers=orjson.loads(headers) if headers else {}, delivery_count=deliveries)
