"""foundation: accounts of other servers (federation): users.domain, longer handles

Revision ID: 0003_foundation
Revises: 0002_foundation
Create Date: 2026-12-06
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_foundation"
down_revision: str | Sequence[str] | None = "0002_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("domain", sa.String(length=255), nullable=True))
        batch_op.alter_column("handle", existing_type=sa.String(length=30), type_=sa.String(length=255))
        batch_op.create_index("ix_users_domain", ["domain"])


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index("ix_users_domain")
        batch_op.alter_column("handle", existing_type=sa.String(length=255), type_=sa.String(length=30))
        batch_op.drop_column("domain")
