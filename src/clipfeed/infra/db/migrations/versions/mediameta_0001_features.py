"""mediameta: clip features (embedding, language, colours, ...), pHash index, blocklist

Revision ID: mediameta_0001
Revises: (none; own branch)
Create Date: 2026-11-25
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "mediameta_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("mediameta",)
depends_on: str | Sequence[str] | None = "0001_foundation"


def upgrade() -> None:
    op.create_table(
        "clip_features",
        sa.Column("clip_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("embedding_model", sa.String(length=40), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("scene_cuts", sa.Integer(), nullable=True),
        sa.Column("colours", sa.JSON(), nullable=False),
        sa.Column("loudness", sa.Float(), nullable=True),
        sa.Column("mentions", sa.JSON(), nullable=False),
        sa.Column("technical", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("clip_id", name=op.f("pk_clip_features")),
    )
    op.create_table(
        "media_blocklist",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source_clip_id", sa.BigInteger(), nullable=True),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("added_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_blocklist")),
    )
    op.create_table(
        "media_phashes",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("ref_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("band", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("band_value", sa.Integer(), nullable=False),
        sa.Column("hash", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "ref_id", "position", "band", name=op.f("pk_media_phashes")),
    )
    with op.batch_alter_table("media_phashes", schema=None) as batch_op:
        batch_op.create_index("ix_media_phashes_lookup", ["kind", "band", "band_value"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("media_phashes", schema=None) as batch_op:
        batch_op.drop_index("ix_media_phashes_lookup")
    op.drop_table("media_phashes")
    op.drop_table("media_blocklist")
    op.drop_table("clip_features")
