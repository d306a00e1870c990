"""search: creators by whole word on SQLite (an FTS5 table of words beside the trigram one), so
that a side list of creators is found from words before pieces of words, as on PostgreSQL

Revision ID: search_0005
Revises: search_0004
Create Date: 2026-12-07
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "search_0005"
down_revision: str | Sequence[str] | None = "search_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":  # PostgreSQL: ix_search_fts_creators_words (search_0004)
        return
    op.execute("CREATE VIRTUAL TABLE search_fts_creators_words USING fts5("
               "document, tokenize='unicode61 remove_diacritics 2')")
    op.execute("INSERT INTO search_fts_creators_words (rowid, document) SELECT user_id, document FROM search_creators")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE search_fts_creators_words")
