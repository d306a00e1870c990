"""shards: the pinned shard map, fences and change capture for online shard moves

Revision ID: shards_0001
Revises: (none; own branch)
Create Date: 2026-12-06
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "shards_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("shards",)
depends_on: str | Sequence[str] | None = "0001_foundation"

# The lock namespace is clipfeed.infra.db.shardmap.LOCK_NAMESPACE (0x636C6970). Each statement
# of a VOLATILE plpgsql function takes a new snapshot, so the fence is read after the lock is
# held: a fence a mover committed while this transaction waited for the lock is seen.
ENTER = """
CREATE OR REPLACE FUNCTION clipfeed_shard_enter(shards integer[]) RETURNS integer[]
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  shard integer;
BEGIN
  FOREACH shard IN ARRAY (SELECT array_agg(s ORDER BY s) FROM unnest(shards) AS s) LOOP
    PERFORM pg_advisory_xact_lock_shared(1668049264, shard);
  END LOOP;
  RETURN ARRAY(SELECT vshard FROM shard_fences WHERE vshard = ANY(shards));
END $$;
"""
CHANGE = """
CREATE OR REPLACE FUNCTION clipfeed_shard_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO shard_changes (tbl, key) VALUES (TG_TABLE_NAME, (to_jsonb(OLD) ->> TG_ARGV[0])::bigint);
    RETURN OLD;
  END IF;
  INSERT INTO shard_changes (tbl, key) VALUES (TG_TABLE_NAME, (to_jsonb(NEW) ->> TG_ARGV[0])::bigint);
  RETURN NEW;
END $$;
"""


def upgrade() -> None:
    op.create_table(
        "shard_map",
        sa.Column("vshard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("database", sa.Integer(), nullable=False),
        sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("vshard", name=op.f("pk_shard_map")),
    )
    op.create_table(
        "shard_fences",
        sa.Column("vshard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("vshard", name=op.f("pk_shard_fences")),
    )
    op.create_table(
        "shard_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tbl", sa.String(length=64), nullable=False),
        sa.Column("key", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shard_changes")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(ENTER)
        op.execute(CHANGE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS clipfeed_shard_change()")
        op.execute("DROP FUNCTION IF EXISTS clipfeed_shard_enter(integer[])")
    op.drop_table("shard_changes")
    op.drop_table("shard_fences")
    op.drop_table("shard_map")
