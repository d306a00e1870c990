"""search: on PostgreSQL, each clip's words stored as a ``tsvector`` column (computed by the
database from the document) with its GIN index: the word steps now take the newest matches, and
checking a row in clip ID order reads the stored words rather than parsing the document again
(23 µs a row). The expression index it replaces stays until a later release: processes of the
previous release still query it between ``clipfeed migrate`` and their restart (add first, drop
later: docs/operate/upgrades.md)

Revision ID: search_0006
Revises: search_0005
Create Date: 2026-12-07
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "search_0006"
down_revision: str | Sequence[str] | None = "search_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # SQLite: the FTS5 tables walk newest first already
        return
    # Rewrites the table once (about 7 s for 100,000 clips on two cores), holding its lock.
    op.execute("ALTER TABLE search_clips ADD COLUMN fts_words tsvector "
               "GENERATED ALWAYS AS (to_tsvector('simple', document)) STORED")
    op.execute("CREATE INDEX ix_search_fts_clips_stored_words ON search_clips USING gin (fts_words)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("DROP INDEX ix_search_fts_clips_stored_words")
    op.execute("ALTER TABLE search_clips DROP COLUMN fts_words")
