"""Event log port: a partitioned, durable, replayable log with consumer groups.

Semantics shared by every adapter (checked by ``tests/contract/test_event_log.py``):

* A **topic** has a fixed number of **partitions**. ``append`` picks the partition from a hash
  of the key (same key, same partition, so per-key order holds); no key spreads round-robin.
* ``append``/``append_batch`` return only once the records are durable (embedded: fsynced;
  JetStream: acknowledged by the stream). Each record gets an **offset**, strictly increasing
  within its partition (not necessarily contiguous) and a timestamp.
* A **consumer group** reads a topic with **at-least-once** delivery. Each delivered record must
  be ``ack``-ed; one not acked within ``ack_wait`` (or ``nack``-ed) is delivered again, with a
  higher ``delivery_count``. ``touch`` extends the deadline for long work (heartbeat).
  The group's **committed offset** per partition is the first offset not yet acked; a new member
  (or the same group after a restart) resumes from there, skipping records acked above it.
* Two ways to split work among the members of a group:
  - ``shared=True`` (a work queue): any member may receive any record; good for jobs such as
    transcodes, where one slow record must not hold back others.
  - ``shared=False`` (partitioned): each partition is owned by exactly one live member at a
    time, so per-key state can live in that member; when a member stops heartbeating (it died),
    its partitions move to the others after ``ack_wait`` and are resumed from the committed
    offset.
* **Retention** by age and by size per topic; trimmed records are gone for replay.
* **Replay**: ``read`` returns records from an offset or a time without any group;
  ``seek_group`` moves a group's committed offsets (to rebuild derived state).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

__all__ = [
    "EventLog", "Consumer", "Record", "Position", "TopicSpec", "OutgoingRecord", "open_event_log",
    "partition_for",
]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 8
    max_age: timedelta | None = timedelta(days=7)
    max_bytes: int | None = None


@dataclass(frozen=True)
class OutgoingRecord:
    value: bytes
    key: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Position:
    partition: int
    offset: int


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    timestamp: datetime
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    delivery_count: int = 1


class Consumer(Protocol):
    """One member of a consumer group. Not safe to share between event loops."""

    @property
    def member_id(self) -> str: ...

    async def fetch(self, max_records: int = 100, timeout: float = 1.0) -> list[Record]:
        """Up to ``max_records`` records, waiting at most ``timeout`` seconds for the first."""

    def wake(self) -> None:
        """End the wait of a ``fetch`` under way (now, or the next one's): it returns what it
        has, perhaps nothing. Never mid-way through taking records, so none is lost to it."""

    async def ack(self, record: Record) -> None:
        """Done with ``record``: it will not be delivered to this group again."""

    async def ack_many(self, records: Sequence[Record]) -> None:
        """Acknowledge several records in one round trip."""

    async def nack(self, record: Record, delay: float = 0.0) -> None:
        """Deliver ``record`` again after ``delay`` seconds (to any eligible member)."""

    async def touch(self, record: Record) -> None:
        """Still working on ``record``: restart its ``ack_wait`` deadline."""

    async def assigned_partitions(self) -> list[int]:
        """Partitions this member owns now (all partitions for a shared group)."""

    async def close(self) -> None:
        """Leave the group; unacked records become available to other members at once."""


class EventLog(Protocol):
    async def ensure_topic(self, spec: TopicSpec) -> None:
        """Create the topic, or update its retention. The partition count never changes."""

    async def append(self, topic: str, value: bytes, *, key: bytes | None = None,
                     headers: dict[str, str] | None = None) -> Position:
        """Durably append one record; unknown topics are created with default settings."""

    async def append_batch(self, topic: str, records: Sequence[OutgoingRecord]) -> list[Position]:
        """Durably append records in one write, in order; positions match ``records``."""

    async def consumer(self, topic: str, group: str, *, shared: bool = True,
                       ack_wait: float = 30.0, max_in_flight: int = 1000,
                       member_id: str | None = None) -> Consumer:
        """Join ``group`` on ``topic``. A new group starts at the earliest retained record."""

    async def read(self, topic: str, partition: int, *, from_offset: int | None = None,
                   from_time: datetime | None = None, limit: int = 1000) -> list[Record]:
        """Records of one partition from an offset or a time, outside any group (replay)."""

    async def tail(self, topic: str) -> AsyncIterator[Record]:
        """Records appended to ``topic`` after this call returns, as they arrive, outside any
        group: no acks, no redelivery, nothing older. For live fan-out to open connections
        (server-sent events), where a client that missed something reads the stored state."""

    async def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has."""

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """Per partition, the offset the next appended record will be at least."""

    async def committed(self, topic: str, group: str) -> dict[int, int]:
        """Per partition, the group's first offset not yet acknowledged."""

    async def seek_group(self, topic: str, group: str, *, to_offset: dict[int, int] | None = None,
                         to_time: datetime | None = None) -> None:
        """Move a group's committed offsets (replay into a group). Members must be stopped."""

    async def enforce_retention(self) -> int:
        """Drop records past their topic's retention; returns how many were dropped."""

    async def ping(self) -> None:
        """Raise if the log cannot be reached."""

    async def close(self) -> None: ...


def partition_for(key: bytes | None, partitions: int, fallback: int) -> int:
    """The partition of a key; the same for every adapter (so replays agree)."""
    if key is None:
        return fallback % partitions
    import hashlib

    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") % partitions


async def open_event_log(url: str) -> EventLog:
    """``embedded:///path/to/dir`` or ``nats://host:4222[,host2:4222]``."""
    scheme = url.split("://", 1)[0]
    if scheme == "embedded":
        from clipfeed.infra.log.embedded.log import EmbeddedEventLog

        return await EmbeddedEventLog.open(url)
    if scheme in ("nats", "tls"):
        from clipfeed.infra.log.jetstream.log import JetStreamEventLog

        return await JetStreamEventLog.open(url)
    raise ValueError(f"unknown event log URL scheme {scheme!r} (use embedded:// or nats://)")
