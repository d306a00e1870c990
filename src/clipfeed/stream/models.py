"""Tables of the stream processors (sharded by clip ID: no foreign keys, ``shard_session``).

* ``clip_stats``: the counters of a clip, the state of record behind the cached copy.
* ``clip_audience``: one row per (clip, viewer): the days a view was counted (views once per
  viewer per clip per UTC day, unique viewers once ever) and which trending contributions the
  viewer already made (per-user caps).
* ``stream_applied``: IDs of events already applied to a clip, for exactly-once counting; rows
  older than ``CLIPFEED_STREAM_DEDUPE_HORIZON_S`` are pruned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db import Base, UTCDateTime, utcnow

COUNTER_COLUMNS = ("impressions", "plays", "views", "unique_viewers", "completes", "replays", "skips",
                   "not_interested", "watch_ms", "likes", "comments", "shares", "bookmarks")


class ClipStats(Base):
    __tablename__ = "clip_stats"
    __shard_key__ = "clip_id"  # sharded: rows live on the database of this key's virtual shard

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    impressions: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    plays: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    views: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    unique_viewers: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    completes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    replays: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    skips: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    not_interested: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    watch_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    likes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    comments: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    shares: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    bookmarks: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClipAudience(Base):
    __tablename__ = "clip_audience"
    __shard_key__ = "clip_id"  # sharded: rows live on the database of this key's virtual shard

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    viewer: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    view_day: Mapped[int] = mapped_column(sa.Integer, default=-1)   # newest UTC day with a view
    view_days: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # bit i: a view on view_day - i
    trend_day: Mapped[int] = mapped_column(sa.Integer, default=-1)
    trend_mask: Mapped[int] = mapped_column(sa.Integer, default=0)  # kinds contributed on trend_day
    trend_prev: Mapped[int] = mapped_column(sa.Integer, default=0)  # ... and on the day before


class StreamApplied(Base):
    __tablename__ = "stream_applied"
    __shard_key__ = "clip_id"  # sharded: rows live on the database of this key's virtual shard
    __table_args__ = (sa.Index("ix_stream_applied_applied_at", "applied_at"),)

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    applied_at: Mapped[int] = mapped_column(sa.BigInteger)  # epoch seconds


@dataclass(frozen=True)
class ClipCounts:
    """A clip's counters (eventually consistent; docs/design/stream.md, "Counters", gives the staleness bound)."""

    clip_id: int
    impressions: int = 0
    plays: int = 0
    views: int = 0
    unique_viewers: int = 0
    completes: int = 0
    replays: int = 0
    skips: int = 0
    not_interested: int = 0
    watch_ms: int = 0
    likes: int = 0
    comments: int = 0
    shares: int = 0
    bookmarks: int = 0

    @property
    def avg_watch_ms(self) -> float:
        """Watch time per play."""
        return self.watch_ms / self.plays if self.plays else 0.0

    @property
    def completion_rate(self) -> float:
        """Share of plays that reached the end (at most 1)."""
        return min(1.0, self.completes / self.plays) if self.plays else 0.0

    def as_dict(self) -> dict[str, int]:
        return {"clip_id": self.clip_id, **{c: getattr(self, c) for c in COUNTER_COLUMNS}}


class ClipCountsPublic(BaseModel):
    clip_id: str
    views: int
    unique_viewers: int
    likes: int
    comments: int
    shares: int
    bookmarks: int
    avg_watch_ms: float
    completion_rate: float
