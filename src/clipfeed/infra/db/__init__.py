"""Metadata store port: SQLAlchemy 2 (async) over SQLite (embedded) or PostgreSQL.

Two kinds of tables:

* **directory** tables (accounts, clips, uploads, ...) live in the main database
  (``database_url``); relational queries and unique constraints work across all their rows.
* **sharded** tables (high-volume per-user or per-clip rows: likes, views, notifications, ...)
  are routed by key through :class:`~clipfeed.core.sharding.ShardRouter` to one of the
  ``database_shard_urls`` (or to the main database when none are set). They carry no foreign
  keys to directory tables, and queries on them always name the shard key.

Every database gets the full schema from the same Alembic migrations, so a shard can be
promoted or merged without a schema change.
"""

from __future__ import annotations

from clipfeed.infra.db.base import Base, UTCDateTime, detached, insert_for, insert_ignore, not_among, row_of, utcnow
from clipfeed.infra.db.database import Database
from clipfeed.infra.db.engine import async_url, sync_url
from clipfeed.infra.db.replicas import together
from clipfeed.infra.db.sessions import read_rows

__all__ = ["Base", "Database", "UTCDateTime", "async_url", "detached", "insert_for", "insert_ignore", "not_among",
           "read_rows", "row_of", "sync_url", "together", "utcnow"]
