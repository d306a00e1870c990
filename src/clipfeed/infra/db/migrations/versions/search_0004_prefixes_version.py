"""search: indexed folded prefixes for completions (handles, hashtags, past queries), creators'
words on PostgreSQL, and the index's version (what a cached text ranking is keyed by)

Revision ID: search_0004
Revises: search_0003
Create Date: 2026-12-06
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "search_0004"
down_revision: str | Sequence[str] | None = "search_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A prefix is a range of one of these indexes. Named ix_search_fts_*: engine-specific, as the
# text indexes are (no model declares them). On SQLite the hashtag and the past query are
# their primary keys' ranges already; PostgreSQL's LIKE 'ab%' needs text_pattern_ops.
SQLITE = {"ix_search_fts_creators_handle_prefix": "search_creators (lower(handle))"}
POSTGRES = {
    "ix_search_fts_creators_handle_prefix": "search_creators (lower(handle) text_pattern_ops)",
    "ix_search_fts_hashtags_prefix": "search_hashtags (tag text_pattern_ops)",
    "ix_search_fts_queries_prefix": "search_queries (region, query text_pattern_ops)",
    # Creators by word (handle parts, name) before pieces of words: see PostgresSearchIndex.
    "ix_search_fts_creators_words": "search_creators USING gin (to_tsvector('simple', document))",
}


def upgrade() -> None:
    indexes = SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRES
    for name, target in indexes.items():
        op.execute(f"CREATE INDEX {name} ON {target}")
    op.create_table(
        "search_index_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_index_version")),
    )
    op.execute("INSERT INTO search_index_version (id, version) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("search_index_version")
    indexes = SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRES
    for name in indexes:
        op.execute(f"DROP INDEX {name}")
