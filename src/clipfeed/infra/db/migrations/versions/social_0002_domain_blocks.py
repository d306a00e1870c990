"""social: users' blocks of whole servers (user_domain_blocks)

Revision ID: social_0002
Revises: social_0001
Create Date: 2026-12-14
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "social_0002"
down_revision: str | Sequence[str] | None = "social_0001"
branch_labels: str | Sequence[str] | None = None
# Read joined with users.domain (indexed: ix_users_domain, 0003_foundation); no foreign key, so
# no order between the branches is needed (a dependency on a branch's head would hide that head
# from the version table).
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_domain_blocks",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "domain", name=op.f("pk_user_domain_blocks")),
    )
    op.create_index("ix_user_domain_blocks_domain", "user_domain_blocks", ["domain"])
    op.create_index("ix_user_domain_blocks_user_id_id", "user_domain_blocks", ["user_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_user_domain_blocks_user_id_id", table_name="user_domain_blocks")
    op.drop_index("ix_user_domain_blocks_domain", table_name="user_domain_blocks")
    op.drop_table("user_domain_blocks")
