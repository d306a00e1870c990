"""The search index's portable tables (both engines). Each engine adds its own text index
structures in the ``search`` migrations: FTS5 virtual tables ``search_fts_*`` on SQLite,
expression GIN indexes (``tsvector`` and ``pg_trgm``) on PostgreSQL. The rows are a
denormalised copy of what is searchable; the clips and users tables stay the state of record."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db import Base, UTCDateTime, utcnow


class SearchClip(Base):
    """A listed clip (ready, public, creator active); any other clip has no row."""

    __tablename__ = "search_clips"

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    caption: Mapped[str] = mapped_column(sa.Text, default="")
    tags: Mapped[str] = mapped_column(sa.Text, default="")  # space-separated, lowercase
    handle: Mapped[str] = mapped_column(sa.String(30), default="")
    display_name: Mapped[str] = mapped_column(sa.String(60), default="")
    detected_text: Mapped[str] = mapped_column(sa.Text, default="")
    language: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Folded text of every field above: what the engines' text indexes cover.
    document: Mapped[str] = mapped_column(sa.Text, default="")


class SearchClipVector(Base):
    """A listed clip's caption embedding (semantic search), written by ``search-embedder``."""

    __tablename__ = "search_clip_vectors"

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    vector: Mapped[bytes] = mapped_column(sa.LargeBinary)  # float32 little-endian, unit length
    model: Mapped[str] = mapped_column(sa.String(40))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SearchClipTag(Base):
    __tablename__ = "search_clip_tags"

    tag: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False, index=True)


class SearchHashtag(Base):
    __tablename__ = "search_hashtags"

    tag: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    clip_count: Mapped[int] = mapped_column(sa.Integer, default=0)


class SearchCreator(Base):
    __tablename__ = "search_creators"

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    handle: Mapped[str] = mapped_column(sa.String(30), index=True)
    display_name: Mapped[str] = mapped_column(sa.String(60), default="")
    clip_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    document: Mapped[str] = mapped_column(sa.Text, default="")


class SearchQueryCount(Base):
    """The query log, anonymised: a folded query and how often it was searched in a region;
    no user, device or address is kept."""

    __tablename__ = "search_queries"

    region: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    query: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    count: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchQueryBlock(Base):
    """Words never suggested: a past query containing one is not offered as a completion."""

    __tablename__ = "search_query_blocks"

    word: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SearchTermVariant(Base):
    """The deletion neighbourhood of the hashtags' and handles' short words (SymSpell's
    index): each word under itself and under every string made by deleting one or two of its
    letters. A query word's own deletions looked up here give every word within two edits,
    even one sharing no three-letter piece with it (``maler`` → ``maker``), which the
    trigram indexes cannot find. Rows only grow between rebuilds: a word no longer used finds
    nothing when it is then searched."""

    __tablename__ = "search_term_variants"

    variant: Mapped[str] = mapped_column(sa.String(50), primary_key=True)
    word: Mapped[str] = mapped_column(sa.String(50), primary_key=True)


class SearchIndexVersion(Base):
    """One row whose ``version`` goes up with every write to the index (in the same
    transaction): a serving process keeps text rankings of popular queries under the version
    they were computed at, and a new version makes them stale at once."""

    __tablename__ = "search_index_version"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(sa.BigInteger, default=0)
