"""Consumer-group state of the embedded log: cursors, leases and membership.

Per group and partition, ``cursors.next_offset`` is the first offset never delivered, and
``pending`` holds one row per delivered record not yet acked (its lease: holder, deadline and
delivery count). An ack deletes the row, so the committed offset is simply the smallest pending
offset, or the cursor when nothing is pending; records acked above it are never redelivered
because their rows are gone. A lease whose deadline passed (or that was nacked or released) is
delivered again, to any member allowed to read its partition.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from clipfeed.core.errors import Conflict, NotFound
from clipfeed.infra.log.embedded import store as store
from clipfeed.infra.log.membership import Membership

Key = tuple[int, int]  # (partition, offset)
Delivery = tuple[store.RecordRow, int]  # the record and its delivery count


def join(conn: sqlite3.Connection, topic_id: int, name: str, shared: bool) -> int:
    """The group's id, creating it; a group is either shared or partitioned, never both."""
    row = conn.execute("SELECT id, shared FROM groups WHERE topic_id = ? AND name = ?",
                       (topic_id, name)).fetchone()
    if row is None:
        cur = conn.execute("INSERT INTO groups (topic_id, name, shared) VALUES (?, ?, ?)",
                           (topic_id, name, int(shared)))
        return int(cur.lastrowid or 0)
    if bool(row[1]) != shared:
        kind = "shared" if row[1] else "partitioned"
        raise Conflict(f"consumer group {name!r} is {kind}; join it the same way")
    return int(row[0])


def find(conn: sqlite3.Connection, topic_id: int, name: str) -> int:
    row = conn.execute("SELECT id FROM groups WHERE topic_id = ? AND name = ?", (topic_id, name)).fetchone()
    if row is None:
        raise NotFound(f"no consumer group {name!r} on this topic")
    return int(row[0])


def in_flight(conn: sqlite3.Connection, group_id: int, member: str, now: int) -> int:
    (count,) = conn.execute("SELECT count(*) FROM pending WHERE group_id = ? AND member = ? "
                            "AND deadline_ms > ?", (group_id, member, now)).fetchone()
    return int(count)


def fetch(conn: sqlite3.Connection, *, topic_id: int, group_id: int, partitions: Sequence[int],
          member: str, deadline: int, now: int, limit: int) -> list[Delivery]:
    """Lease up to ``limit`` records of ``partitions`` to ``member`` until ``deadline``: expired
    leases first (oldest offsets first), then records past each partition's cursor."""
    if limit <= 0 or not partitions:
        return []
    marks = ",".join("?" * len(partitions))
    due = conn.execute(
        "SELECT p.partition, p.offset, p.deliveries, r.ts_ms, r.key, r.value, r.headers FROM pending p "
        "LEFT JOIN records r ON r.topic_id = ? AND r.partition = p.partition AND r.offset = p.offset "
        f"WHERE p.group_id = ? AND p.deadline_ms <= ? AND p.partition IN ({marks}) "
        "ORDER BY p.partition, p.offset LIMIT ?", (topic_id, group_id, now, *partitions, limit)).fetchall()
    out: list[Delivery] = []
    gone: list[tuple[int, int, int]] = []
    for partition, offset, deliveries, ts, key, value, headers in due:
        if value is None:  # dropped by retention meanwhile
            gone.append((group_id, partition, offset))
        else:
            out.append(((partition, offset, ts, key, value, headers), deliveries + 1))
    conn.executemany("DELETE FROM pending WHERE group_id = ? AND partition = ? AND offset = ?", gone)
    conn.executemany("UPDATE pending SET member = ?, deadline_ms = ?, deliveries = deliveries + 1 "
                     "WHERE group_id = ? AND partition = ? AND offset = ?",
                     [(member, deadline, group_id, row[0], row[1]) for row, _ in out])
    cursors = dict(conn.execute("SELECT partition, next_offset FROM cursors WHERE group_id = ?", (group_id,)))
    for partition in partitions:
        if len(out) >= limit:
            break
        rows = store.read(conn, topic_id, partition, cursors.get(partition, 0), limit - len(out))
        if not rows:
            continue
        conn.executemany("INSERT INTO pending (group_id, partition, offset, member, deadline_ms, deliveries) "
                         "VALUES (?, ?, ?, ?, ?, 1)", [(group_id, partition, r[1], member, deadline) for r in rows])
        conn.execute("INSERT INTO cursors (group_id, partition, next_offset) VALUES (?, ?, ?) "
                     "ON CONFLICT (group_id, partition) DO UPDATE SET next_offset = excluded.next_offset",
                     (group_id, partition, rows[-1][1] + 1))
        out.extend((row, 1) for row in rows)
    return out


def ack(conn: sqlite3.Connection, group_id: int, keys: Sequence[Key]) -> None:
    conn.executemany("DELETE FROM pending WHERE group_id = ? AND partition = ? AND offset = ?",
                     [(group_id, p, o) for p, o in keys])


def nack(conn: sqlite3.Connection, group_id: int, keys: Sequence[Key], due: int) -> None:
    conn.executemany("UPDATE pending SET member = NULL, deadline_ms = ? "
                     "WHERE group_id = ? AND partition = ? AND offset = ?",
                     [(due, group_id, p, o) for p, o in keys])


def touch(conn: sqlite3.Connection, group_id: int, keys: Sequence[Key], member: str, deadline: int) -> None:
    # Only the current holder may extend a lease: once it lapsed and went to another member,
    # the old holder's heartbeat must not take it back.
    conn.executemany("UPDATE pending SET deadline_ms = ? "
                     "WHERE group_id = ? AND partition = ? AND offset = ? AND member = ?",
                     [(deadline, group_id, p, o, member) for p, o in keys])


def release(conn: sqlite3.Connection, group_id: int, member: str) -> None:
    """Make every lease of ``member`` deliverable at once (it is leaving)."""
    conn.execute("UPDATE pending SET member = NULL, deadline_ms = 0 WHERE group_id = ? AND member = ?",
                 (group_id, member))


def load_membership(conn: sqlite3.Connection, group_id: int) -> Membership:
    row = conn.execute("SELECT membership FROM groups WHERE id = ?", (group_id,)).fetchone()
    return Membership.from_json(row[0] if row else None)


def save_membership(conn: sqlite3.Connection, group_id: int, membership: Membership) -> None:
    conn.execute("UPDATE groups SET membership = ? WHERE id = ?", (membership.to_json(), group_id))


def committed(conn: sqlite3.Connection, topic_id: int, group_id: int, partitions: int) -> dict[int, int]:
    cursors = dict(conn.execute("SELECT partition, next_offset FROM cursors WHERE group_id = ?", (group_id,)))
    lowest = dict(conn.execute("SELECT partition, min(offset) FROM pending WHERE group_id = ? "
                               "GROUP BY partition", (group_id,)))
    out = {}
    for partition in range(partitions):
        if partition in lowest:
            out[partition] = int(lowest[partition])
        else:
            first, _ = store.partition_bounds(conn, topic_id, partition)
            out[partition] = max(cursors.get(partition, 0), first)
    return out


def seek(conn: sqlite3.Connection, group_id: int, offsets: dict[int, int]) -> None:
    """Restart the given partitions of the group at the given offsets (forgetting leases)."""
    for partition, offset in offsets.items():
        conn.execute("DELETE FROM pending WHERE group_id = ? AND partition = ?", (group_id, partition))
        conn.execute("INSERT INTO cursors (group_id, partition, next_offset) VALUES (?, ?, ?) "
                     "ON CONFLICT (group_id, partition) DO UPDATE SET next_offset = excluded.next_offset",
                     (group_id, partition, max(0, offset)))


def has_work(conn: sqlite3.Connection, topic_id: int, group_id: int, partitions: Sequence[int],
             now: int) -> bool:
    """Cheap read-only check that ``fetch`` would find something (lets idle polls skip the
    write lock)."""
    if not partitions:
        return False
    marks = ",".join("?" * len(partitions))
    due = conn.execute(f"SELECT 1 FROM pending WHERE group_id = ? AND deadline_ms <= ? "
                       f"AND partition IN ({marks}) LIMIT 1", (group_id, now, *partitions)).fetchone()
    if due:
        return True
    fresh = conn.execute(
        "SELECT 1 FROM partitions t LEFT JOIN cursors c ON c.group_id = ? AND c.partition = t.partition "
        f"WHERE t.topic_id = ? AND t.partition IN ({marks}) AND EXISTS (SELECT 1 FROM records r "
        "WHERE r.topic_id = t.topic_id AND r.partition = t.partition AND r.offset >= coalesce(c.next_offset, 0)) "
        "LIMIT 1", (group_id, topic_id, *partitions)).fetchone()
    return fresh is not None
