"""shards: the WAL position a moved virtual shard's new database had once its rows arrived

Revision ID: shards_0002
Revises: shards_0001
Create Date: 2026-12-07
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "shards_0002"
down_revision: str | Sequence[str] | None = "shards_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: the default ranges and shards moved before this never wait for a replica.
    with op.batch_alter_table("shard_map") as batch:
        batch.add_column(sa.Column("arrived_lsn", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shard_map") as batch:
        batch.drop_column("arrived_lsn")
