"""delivery: pending edge purges

Revision ID: delivery_0001
Revises: (none; own branch)
Create Date: 2026-11-25
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "delivery_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("delivery",)
depends_on: str | Sequence[str] | None = "0001_foundation"


def upgrade() -> None:
    op.create_table(
        "delivery_purges",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("purge_id", sa.BigInteger(), nullable=False),
        sa.Column("edge", sa.String(length=300), nullable=False),
        sa.Column("prefixes", sa.JSON(), nullable=False),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_purges")),
    )
    op.create_index("ix_delivery_purges_pending", "delivery_purges", ["done_at", "next_attempt_at"])
    op.create_index(op.f("ix_delivery_purges_purge_id"), "delivery_purges", ["purge_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_delivery_purges_purge_id"), table_name="delivery_purges")
    op.drop_index("ix_delivery_purges_pending", table_name="delivery_purges")
    op.drop_table("delivery_purges")
