"""federation: per-server media mode (stream or cache), policies by software name

Revision ID: federation_0002
Revises: federation_0001
Create Date: 2026-12-07
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "federation_0002"
down_revision: str | Sequence[str] | None = "federation_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("federation_instances") as table:
        table.add_column(sa.Column("media", sa.String(length=8), nullable=True))
    op.create_table(
        "federation_software_policies",
        sa.Column("software", sa.String(length=60), nullable=False),
        sa.Column("policy", sa.String(length=12), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("software", name=op.f("pk_federation_software_policies")),
    )


def downgrade() -> None:
    op.drop_table("federation_software_policies")
    with op.batch_alter_table("federation_instances") as table:
        table.drop_column("media")
