"""Search index port: a denormalised copy of what is searchable, with a text index that finds
candidates tolerant of typos, prefixes and word forms.

The engine is picked by the metadata store's URL scheme, because the index lives in that
database: ``sqlite://`` → FTS5 (``trigram`` + ``unicode61`` tokenizers), ``postgresql://`` →
full-text (``tsvector``) + ``pg_trgm``. An adapter's job is *recall*: return every document a
query could mean, within ``limit``. Precision (which candidate ranks first) is one scorer over
the documents, shared by every engine (``clipfeed.search.scoring``), so both engines rank the
same candidates the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from clipfeed.infra.db import Database


@dataclass(frozen=True)
class ClipDocument:
    clip_id: int
    owner_id: int
    caption: str
    tags: tuple[str, ...]
    handle: str
    display_name: str
    published_at: datetime
    detected_text: str = ""
    language: str | None = None
    duration_ms: int | None = None


class ClipText(NamedTuple):
    """What a candidate clip is scored on (``clip_candidates``): its text fields, with its
    owner and publication time for the blend. A tuple, not a ``ClipDocument``: a search reads
    up to 300 of them, and building a dataclass and a date object for each was a tenth of a new
    query's CPU."""

    clip_id: int
    owner_id: int
    caption: str
    tags: tuple[str, ...]
    handle: str
    display_name: str
    detected_text: str
    published: float = 0.0  # seconds since the epoch (the document's ``published_at``)


@dataclass(frozen=True)
class CreatorDocument:
    user_id: int
    handle: str
    display_name: str
    clip_count: int = 0


@dataclass(frozen=True)
class HashtagCount:
    tag: str
    clip_count: int


@dataclass(frozen=True)
class ClipFilters:
    published_after: datetime | None = None
    published_before: datetime | None = None
    min_duration_ms: int | None = None
    max_duration_ms: int | None = None
    language: str | None = None


NO_FILTERS = ClipFilters()


class SearchIndex(Protocol):
    async def put_clips(self, clips: list[ClipDocument]) -> None:
        """Insert or replace these clips' documents (idempotent), and refresh the clip counts
        of their hashtags and creators."""

    async def remove_clips(self, clip_ids: list[int]) -> None:
        """Remove these clips (unknown IDs are ignored); hashtag and creator counts follow."""

    async def put_creators(self, creators: list[CreatorDocument]) -> None:
        """Insert or replace creators (their clip counts are the index's own)."""

    async def remove_creators(self, user_ids: list[int]) -> None:
        """Remove creators and every clip of theirs."""

    async def clip_ids_of(self, owner_id: int) -> list[int]:
        """The indexed clips of a creator (to re-index them after a rename)."""

    async def clip_candidates(self, terms: list[str], *, filters: ClipFilters, limit: int,
                              near: dict[str, list[str]] | None = None, words: bool = True,
                              pieces: bool = True, held: Collection[int] = ()) -> list[ClipText]:
        """The text of clips whose text may match the folded ``terms`` (word forms, prefixes and typos
        included), narrowed by ``filters``; at most ``limit``, likelier ones first: those with
        every term, then any, as whole words, then as prefixes, then (``pieces``) sharing pieces
        of words. With ``near`` (a term's neighbour words, ``term_neighbours``) a term may also
        be found as any of its neighbours. ``words=False`` asks the pieces alone. Clips in
        ``held`` (the caller has their documents already) count towards ``limit`` but are left
        out of the answer."""

    async def clips(self, clip_ids: list[int], *, filters: ClipFilters | None = None) -> list[ClipDocument]:
        """The indexed documents among ``clip_ids`` that pass ``filters``, in that order
        (semantic hits are looked up this way)."""

    async def creator_candidates(self, terms: list[str], *, limit: int) -> list[CreatorDocument]:
        """Creators whose handle or display name may match any of ``terms``."""

    async def creators_starting(self, prefix: str, *, limit: int) -> list[CreatorDocument]:
        """Creators whose handle starts with ``prefix`` (folded), the most clips first: an
        index range, whatever the prefix's length (completions)."""

    async def hashtags_starting(self, prefix: str, *, limit: int) -> list[HashtagCount]:
        """Hashtags with listed clips starting with ``prefix`` (folded), the most clips first."""

    async def hashtag_candidates(self, terms: list[str], *, limit: int) -> list[HashtagCount]:
        """Hashtags (with at least one listed clip) that may match any of ``terms``."""

    async def term_neighbours(self, terms: dict[str, int], *, limit: int) -> dict[str, list[str]]:
        """For each term (with the edits it tolerates), the indexed words (of captions,
        hashtags, handles and names, four to eight letters) that may be one or two edits from it
        (the deletion neighbourhood's candidates, unchecked: the caller measures the edits),
        at most ``limit`` each. Finds typos sharing no trigram with the word meant."""

    async def hashtag(self, tag: str) -> HashtagCount | None:
        """The hashtag with its listed-clip count, or None when no listed clip carries it."""

    async def clip_ids_tagged(self, tag: str, *, limit: int) -> list[int]:
        """Listed clips carrying ``tag``, newest first."""

    async def related_hashtags(self, tag: str, *, limit: int) -> list[HashtagCount]:
        """Hashtags most often on the same clips as ``tag`` (count = clips shared)."""

    async def top_hashtags(self, *, limit: int) -> list[HashtagCount]:
        """Hashtags with the most listed clips."""

    async def top_creators(self, *, limit: int, newest: bool = False) -> list[CreatorDocument]:
        """Creators with listed clips: the most clips first, or (``newest``) the newest
        accounts first."""

    async def version(self) -> int:
        """A number that goes up with every write to the index: results computed from the
        index at one version are stale at the next. Read at most every ``VERSION_TTL_S`` per
        process and database: a write by this process shows at once, one by another process
        within that much more."""

    async def clear(self) -> None:
        """Empty the index (before a rebuild)."""


def open_search_index(db: Database) -> SearchIndex:
    """The engine of ``db``'s scheme; an unknown scheme fails (the database did already)."""
    if db.is_sqlite:
        from clipfeed.infra.search.sqlite import SQLiteSearchIndex

        return SQLiteSearchIndex(db)
    from clipfeed.infra.search.postgres import PostgresSearchIndex

    return PostgresSearchIndex(db)


__all__ = ["ClipDocument", "ClipFilters", "ClipText", "CreatorDocument", "HashtagCount", "SearchIndex",
           "NO_FILTERS", "open_search_index"]
