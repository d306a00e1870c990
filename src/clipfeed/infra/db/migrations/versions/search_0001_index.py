"""search: the search index (documents, hashtag and creator counts, query log) and each
engine's text index (FTS5 on SQLite; tsvector and pg_trgm GIN indexes on PostgreSQL)

Revision ID: search_0001
Revises: (none; own branch)
Create Date: 2026-12-05
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "search_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("search",)
depends_on: str | Sequence[str] | None = "0001_foundation"

SQLITE_TEXT = {
    "search_fts_clips_words": "document, tokenize='porter unicode61 remove_diacritics 2'",
    "search_fts_clips_tri": "document, tokenize='trigram'",
    "search_fts_creators": "document, tokenize='trigram'",
    "search_fts_hashtags": "tag, tokenize='trigram'",
}
POSTGRES_TEXT = {
    "ix_search_fts_clips_words": "search_clips USING gin (to_tsvector('simple', document))",
    "ix_search_fts_clips_trgm": "search_clips USING gin (lower(document) gin_trgm_ops)",
    "ix_search_fts_creators_trgm": "search_creators USING gin (lower(document) gin_trgm_ops)",
    "ix_search_fts_hashtags_trgm": "search_hashtags USING gin (lower(tag) gin_trgm_ops)",
}


def upgrade() -> None:
    op.create_table(
        "search_clips",
        sa.Column("clip_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner_id", sa.BigInteger(), nullable=False),
        sa.Column("caption", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("handle", sa.String(length=30), nullable=False),
        sa.Column("display_name", sa.String(length=60), nullable=False),
        sa.Column("detected_text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("clip_id", name=op.f("pk_search_clips")),
    )
    op.create_index(op.f("ix_search_clips_owner_id"), "search_clips", ["owner_id"], unique=False)
    op.create_table(
        "search_clip_vectors",
        sa.Column("clip_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.Column("model", sa.String(length=40), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("clip_id", name=op.f("pk_search_clip_vectors")),
    )
    op.create_index(op.f("ix_search_clip_vectors_updated_at"), "search_clip_vectors", ["updated_at"], unique=False)
    op.create_table(
        "search_clip_tags",
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.Column("clip_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("tag", "clip_id", name=op.f("pk_search_clip_tags")),
    )
    op.create_index(op.f("ix_search_clip_tags_clip_id"), "search_clip_tags", ["clip_id"], unique=False)
    op.create_table(
        "search_hashtags",
        sa.Column("tag", sa.String(length=50), nullable=False),
        sa.Column("clip_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tag", name=op.f("pk_search_hashtags")),
    )
    op.create_table(
        "search_creators",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("handle", sa.String(length=30), nullable=False),
        sa.Column("display_name", sa.String(length=60), nullable=False),
        sa.Column("clip_count", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_search_creators")),
    )
    op.create_index(op.f("ix_search_creators_handle"), "search_creators", ["handle"], unique=False)
    op.create_table(
        "search_queries",
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("query", sa.String(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("region", "query", name=op.f("pk_search_queries")),
    )
    op.create_table(
        "search_query_blocks",
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_search_query_blocks")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for table, spec in SQLITE_TEXT.items():
            op.execute(f"CREATE VIRTUAL TABLE {table} USING fts5({spec})")
    else:
        # A contrib extension shipped with PostgreSQL; creating it needs a role allowed to.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for index, spec in POSTGRES_TEXT.items():
            op.execute(f"CREATE INDEX {index} ON {spec}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in SQLITE_TEXT:
            op.execute(f"DROP TABLE {table}")
    else:
        for index in POSTGRES_TEXT:
            op.execute(f"DROP INDEX {index}")
    for table in ("search_query_blocks", "search_queries", "search_creators", "search_hashtags",
                  "search_clip_tags", "search_clip_vectors", "search_clips"):
        op.drop_table(table)
