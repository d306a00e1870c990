"""storage: where each clip part lives (tiers)

Revision ID: storage_0001
Revises: (none; own branch)
Create Date: 2026-11-25
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "storage_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("storage",)
depends_on: str | Sequence[str] | None = "0001_foundation"


def upgrade() -> None:
    op.create_table(
        "storage_parts",
        sa.Column("clip_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("part", sa.String(length=8), nullable=False),
        sa.Column("prefix", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=8), nullable=False),
        sa.Column("moving_to", sa.String(length=8), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("objects", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("dropped", sa.JSON(), nullable=False),
        sa.Column("dropped_bytes", sa.BigInteger(), nullable=False),
        sa.Column("views_total", sa.BigInteger(), nullable=True),
        sa.Column("views_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("views_per_day", sa.Float(), nullable=False),
        sa.Column("restore_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("clip_id", "part", name=op.f("pk_storage_parts")),
    )
    op.create_index(op.f("ix_storage_parts_moving_to"), "storage_parts", ["moving_to"])


def downgrade() -> None:
    op.drop_index(op.f("ix_storage_parts_moving_to"), table_name="storage_parts")
    op.drop_table("storage_parts")
