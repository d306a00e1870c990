"""The tables behind online shard moves (``clipfeed.infra.db.moves``).

* ``shard_map`` (main database): where each virtual shard lives once the map is pinned (the
  first move writes every shard's database); empty means "the default ranges". A moved shard's
  row also holds the position its new database's replicas must reach to read it.
* ``shard_fences`` (each shard database): virtual shards this database no longer holds (or is
  handing over). Every shard transaction on PostgreSQL takes a shared advisory lock on its
  virtual shard and reads this table (``clipfeed_shard_enter``); a mover takes the lock
  exclusively to write the fence, so no write lands on the old database after it.
* ``shard_changes`` (each shard database): the keys whose rows changed while a move ran,
  written by triggers the mover installs on the sharded tables and removes afterwards.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db.base import Base, UTCDateTime, utcnow

# pg_advisory_xact_lock(int, int): this namespace, then the virtual shard.
LOCK_NAMESPACE = 0x636C6970  # "clip"


class ShardAssignment(Base):
    __tablename__ = "shard_map"

    vshard: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    database: Mapped[int] = mapped_column(sa.Integer)
    moved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The WAL position of the shard's database once its rows had arrived there (written by the
    # move's switch; none for the default ranges): a replica of that database reads the shard
    # only once it has replayed this far, else it would show the shard empty.
    arrived_lsn: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)


class ShardFence(Base):
    __tablename__ = "shard_fences"

    vshard: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(sa.String(10))  # gone: moved elsewhere
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShardChange(Base):
    __tablename__ = "shard_changes"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    tbl: Mapped[str] = mapped_column(sa.String(64))
    key: Mapped[int] = mapped_column(sa.BigInteger)
