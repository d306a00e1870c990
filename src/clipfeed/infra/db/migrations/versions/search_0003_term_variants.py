"""search: the deletion neighbourhood of hashtags and handle words (typos sharing no trigram)

Revision ID: search_0003
Revises: search_0002
Create Date: 2026-12-06
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "search_0003"
down_revision: str | Sequence[str] | None = "search_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_term_variants",
        sa.Column("variant", sa.String(length=50), nullable=False),
        sa.Column("word", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("variant", "word", name=op.f("pk_search_term_variants")),
    )


def downgrade() -> None:
    op.drop_table("search_term_variants")
