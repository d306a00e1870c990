"""What both engines share: the portable tables (documents, hashtag and creator counts) written
in one transaction with the engine's own text index, which each adapter maintains through the
``_index_*`` hooks and queries in ``_clip_ids``/``_creator_ids``/``_tag_names``."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from clipfeed.infra.db import Database, read_rows
from clipfeed.infra.search import NO_FILTERS, ClipDocument, ClipFilters, ClipText, CreatorDocument, HashtagCount
from clipfeed.infra.search.tables import (
    SearchClip,
    SearchClipTag,
    SearchCreator,
    SearchHashtag,
    SearchIndexVersion,
    SearchTermVariant,
)
from clipfeed.infra.search.text import NEIGHBOUR_EDITS, NEIGHBOURHOOD, deletions, fold, neighbourhood_words


def clip_document_text(clip: ClipDocument) -> str:
    """Every searchable field, folded; handles also split at ``_`` and ``.`` so a part of one
    is a word of its own."""
    handle_parts = clip.handle.replace("_", " ").replace(".", " ")
    return fold(" ".join([clip.caption, " ".join(clip.tags), clip.handle, handle_parts, clip.display_name,
                          clip.detected_text]))


def creator_document_text(creator: CreatorDocument) -> str:
    return fold(" ".join([creator.handle, creator.handle.replace("_", " ").replace(".", " "), creator.display_name]))


DOCUMENT_COLUMNS = (SearchClip.clip_id, SearchClip.owner_id, SearchClip.caption, SearchClip.tags, SearchClip.handle,
                    SearchClip.display_name, SearchClip.published_at, SearchClip.detected_text, SearchClip.language,
                    SearchClip.duration_ms)


# Reads built once: the IDs are one expanding parameter.
_IDS: sa.BindParameter[object] = sa.bindparam("ids", expanding=True)
_DOCUMENTS = sa.select(*DOCUMENT_COLUMNS).where(SearchClip.clip_id.in_(_IDS))
_TEXTS = sa.select(SearchClip.clip_id, SearchClip.owner_id, SearchClip.caption, SearchClip.tags, SearchClip.handle,
                   SearchClip.display_name, SearchClip.detected_text, SearchClip.published_at).where(
    SearchClip.clip_id.in_(_IDS))
_VERSION = sa.select(SearchIndexVersion.version).where(SearchIndexVersion.id == 1)


Select = sa.Select[*tuple[Any, ...]]


_STATEMENTS: dict[tuple[str, bool], sa.TextClause] = {}


def _statement(sql: str, *, listed: bool = False) -> sa.TextClause:
    """``sql`` as a statement, built once (parsing a text statement's parameters, and the cache
    key of each new one, cost 0.1 ms a time); with ``listed``, ``({values})`` is one expanding
    parameter (which brings its own parentheses)."""
    found = _STATEMENTS.get((sql, listed))
    if found is None:
        found = sa.text(sql.replace("({values})", ":values")) if listed else sa.text(sql)
        if listed:
            found = found.bindparams(sa.bindparam("values", expanding=True))
        _STATEMENTS[(sql, listed)] = found
    return found


def _filtered(query: Select, filters: ClipFilters) -> Select:
    """``query`` narrowed by ``filters``; without any, the statement built once (building one
    and its cache key cost 0.1 ms a time)."""
    if filters.published_after is not None:
        query = query.where(SearchClip.published_at >= filters.published_after)
    if filters.published_before is not None:
        query = query.where(SearchClip.published_at < filters.published_before)
    if filters.min_duration_ms is not None:
        query = query.where(SearchClip.duration_ms >= filters.min_duration_ms)
    if filters.max_duration_ms is not None:
        query = query.where(SearchClip.duration_ms <= filters.max_duration_ms)
    if filters.language is not None:
        query = query.where(SearchClip.language == filters.language)
    return query


def _seconds(moment: datetime | str | None) -> float:
    """A stored moment as seconds since the epoch: a datetime, or the text SQLite keeps (UTC,
    no zone) when read without SQLAlchemy's type."""
    if moment is None:
        return 0.0
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def to_document(row: SearchClip) -> ClipDocument:
    return ClipDocument(clip_id=row.clip_id, owner_id=row.owner_id, caption=row.caption,
                        tags=tuple(t for t in row.tags.split() if t), handle=row.handle,
                        display_name=row.display_name, published_at=row.published_at,
                        detected_text=row.detected_text, language=row.language, duration_ms=row.duration_ms)


async def _bump(session: AsyncSession) -> None:
    """The index changed: its version goes up in the same transaction, as its last statement
    (on PostgreSQL the row stays locked only until the commit, and two writers cannot wait on
    each other for it)."""
    await session.execute(sa.update(SearchIndexVersion).where(SearchIndexVersion.id == 1)
                          .values(version=SearchIndexVersion.version + 1))


# The index's version as this process last read it, per database: (version, read at, writes by
# this process so far). Every search and suggestion asks for it; reading it once per
# ``VERSION_TTL_S`` rather than once per request saves a statement each. A write made here
# counts up ``writes`` once committed, so this process's next read goes to the database: what it
# wrote shows at once; another process's write shows within ``VERSION_TTL_S``.
VERSION_TTL_S = 0.1
_versions: WeakKeyDictionary[Database, tuple[int, float, int]] = WeakKeyDictionary()
_writes: WeakKeyDictionary[Database, int] = WeakKeyDictionary()


def _written(db: Database) -> None:
    """A write to ``db``'s index committed: the version this process holds is stale."""
    _writes[db] = _writes.get(db, 0) + 1


class SqlSearchIndex(ABC):
    # The publication time as seconds since the epoch, worked out by the database for each of
    # a search's 300 candidates (parsing the dates in Python was a tenth of a new search's
    # CPU in the event loop's thread).
    PUBLISHED_SECONDS = "published_at"

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- engine hooks ------------------------------------------------------------------
    @abstractmethod
    async def _index_clips(self, session: AsyncSession, clips: list[tuple[int, str]]) -> None: ...
    @abstractmethod
    async def _unindex_clips(self, session: AsyncSession, clip_ids: list[int]) -> None: ...
    @abstractmethod
    async def _index_creators(self, session: AsyncSession, creators: list[tuple[int, str]]) -> None: ...
    @abstractmethod
    async def _unindex_creators(self, session: AsyncSession, user_ids: list[int]) -> None: ...
    @abstractmethod
    async def _index_tags(self, session: AsyncSession, added: list[str], removed: list[str]) -> None: ...
    @abstractmethod
    async def _clip_ids(self, session: AsyncSession, terms: list[str], near: dict[str, list[str]], limit: int,
                        *, words: bool, pieces: bool) -> list[int]: ...
    @abstractmethod
    async def _handles_starting(self, session: AsyncSession, prefix: str,
                                limit: int) -> list[CreatorDocument]: ...
    @abstractmethod
    async def _tags_starting(self, session: AsyncSession, prefix: str, limit: int) -> list[HashtagCount]: ...
    @abstractmethod
    async def _creator_candidates(self, session: AsyncSession, terms: list[str],
                                  limit: int) -> list[CreatorDocument]: ...
    @abstractmethod
    async def _tag_candidates(self, session: AsyncSession, terms: list[str], limit: int) -> list[HashtagCount]: ...
    @abstractmethod
    async def _clear_text(self, session: AsyncSession) -> None: ...

    async def _fetch(self, session: AsyncSession, sql: str,
                     params: Mapping[str, object] | None = None) -> Sequence[Sequence[Any]]:
        """The rows of a read of plain columns written in SQL (``:name`` parameters), on the
        session's connection; an engine may run it more directly (SQLite: one hand-off to the
        connection's thread)."""
        return await read_rows(session, _statement(sql), params or {})

    async def _fetch_in(self, session: AsyncSession, sql: str, values: Sequence[object],
                        params: Mapping[str, object] | None = None) -> Sequence[Sequence[Any]]:
        """``_fetch`` of ``sql`` whose ``({values})`` stands for the list ``values``."""
        return await read_rows(session, _statement(sql, listed=True), {**(params or {}), "values": list(values)})

    # --- writes --------------------------------------------------------------------------
    async def put_clips(self, clips: list[ClipDocument]) -> None:
        if not clips:
            return
        ids = [c.clip_id for c in clips]
        async with self.db.session() as session:
            old_tags = await self._tags_of(session, ids)
            owners = set(await self._owners_of(session, ids)) | {c.owner_id for c in clips}
            await self._delete_clip_rows(session, ids)
            session.add_all([SearchClip(clip_id=c.clip_id, owner_id=c.owner_id, caption=c.caption,
                                        tags=" ".join(c.tags), handle=c.handle, display_name=c.display_name,
                                        detected_text=c.detected_text, language=c.language,
                                        duration_ms=c.duration_ms, published_at=c.published_at,
                                        document=clip_document_text(c)) for c in clips])
            session.add_all([SearchClipTag(tag=t, clip_id=c.clip_id) for c in clips for t in dict.fromkeys(c.tags)])
            await session.flush()
            await self._index_clips(session, [(c.clip_id, clip_document_text(c)) for c in clips])
            await self._add_variants(session, [w for c in clips for w in neighbourhood_words(clip_document_text(c))])
            await self._recount(session, old_tags | {t for c in clips for t in c.tags}, owners)
            await _bump(session)
        _written(self.db)

    async def remove_clips(self, clip_ids: list[int]) -> None:
        if not clip_ids:
            return
        async with self.db.session() as session:
            tags = await self._tags_of(session, clip_ids)
            owners = set(await self._owners_of(session, clip_ids))
            await self._delete_clip_rows(session, clip_ids)
            await self._recount(session, tags, owners)
            await _bump(session)
        _written(self.db)

    async def put_creators(self, creators: list[CreatorDocument]) -> None:
        if not creators:
            return
        ids = [c.user_id for c in creators]
        async with self.db.session() as session:
            await session.execute(sa.delete(SearchCreator).where(SearchCreator.user_id.in_(ids)))
            await self._unindex_creators(session, ids)
            session.add_all([SearchCreator(user_id=c.user_id, handle=c.handle, display_name=c.display_name,
                                           document=creator_document_text(c)) for c in creators])
            await session.flush()
            await self._index_creators(session, [(c.user_id, creator_document_text(c)) for c in creators])
            await self._add_variants(session, [w for c in creators for w in neighbourhood_words(c.handle)])
            await self._recount(session, set(), set(ids))
            await _bump(session)
        _written(self.db)

    async def remove_creators(self, user_ids: list[int]) -> None:
        if not user_ids:
            return
        async with self.db.session() as session:
            clip_ids = list(await session.scalars(
                sa.select(SearchClip.clip_id).where(SearchClip.owner_id.in_(user_ids))))
            tags = await self._tags_of(session, clip_ids)
            await self._delete_clip_rows(session, clip_ids)
            await session.execute(sa.delete(SearchCreator).where(SearchCreator.user_id.in_(user_ids)))
            await self._unindex_creators(session, user_ids)
            await self._recount(session, tags, set())
            await _bump(session)
        _written(self.db)

    async def clear(self) -> None:
        async with self.db.session() as session:
            for table in (SearchClip, SearchClipTag, SearchHashtag, SearchCreator, SearchTermVariant):
                await session.execute(sa.delete(table))
            await self._clear_text(session)
            await _bump(session)
        _written(self.db)

    async def version(self) -> int:
        writes = _writes.get(self.db, 0)
        held = _versions.get(self.db)
        if held is not None and held[2] == writes and time.monotonic() - held[1] < VERSION_TTL_S:
            return held[0]
        started = time.monotonic()
        async with self.db.read_session() as session:
            found = await read_rows(session, _VERSION)
        version = int(found[0][0] or 0) if found else 0
        # Kept unless a write of ours committed meanwhile, or a read that began later already
        # brought a newer version back (the number only goes up).
        held = _versions.get(self.db)
        if _writes.get(self.db, 0) == writes and (held is None or held[2] != writes or held[0] <= version):
            _versions[self.db] = (version, started, writes)
        return version

    async def _add_variants(self, session: AsyncSession, found: list[str]) -> None:
        """Put new words into the deletion neighbourhood (a word already there is skipped: its
        own row is the word under itself)."""
        fresh = sorted(set(found))
        if not fresh:
            return
        known = set(await session.scalars(sa.select(SearchTermVariant.word).where(
            SearchTermVariant.variant.in_(fresh), SearchTermVariant.word == SearchTermVariant.variant)))
        rows = [{"variant": v, "word": w} for w in fresh if w not in known for v in sorted(deletions(w))]
        if rows:  # two indexers may add the same word at once: the second one's rows are no-ops
            await session.execute(sa.text("INSERT INTO search_term_variants (variant, word) VALUES (:variant, :word) "
                                          "ON CONFLICT DO NOTHING"), rows)

    async def _delete_clip_rows(self, session: AsyncSession, clip_ids: list[int]) -> None:
        await session.execute(sa.delete(SearchClip).where(SearchClip.clip_id.in_(clip_ids)))
        await session.execute(sa.delete(SearchClipTag).where(SearchClipTag.clip_id.in_(clip_ids)))
        await self._unindex_clips(session, clip_ids)

    async def _tags_of(self, session: AsyncSession, clip_ids: Iterable[int]) -> set[str]:
        rows = await session.scalars(sa.select(SearchClipTag.tag).where(SearchClipTag.clip_id.in_(list(clip_ids))))
        return set(rows)

    async def _owners_of(self, session: AsyncSession, clip_ids: list[int]) -> list[int]:
        return list(await session.scalars(sa.select(SearchClip.owner_id).where(SearchClip.clip_id.in_(clip_ids))))

    async def _recount(self, session: AsyncSession, tags: set[str], owners: set[int]) -> None:
        """Counts of the touched hashtags and creators, from the rows (so replays converge)."""
        if tags:
            counts = dict((await session.execute(
                sa.select(SearchClipTag.tag, sa.func.count()).where(SearchClipTag.tag.in_(tags))
                .group_by(SearchClipTag.tag))).all())
            known = set(await session.scalars(sa.select(SearchHashtag.tag).where(SearchHashtag.tag.in_(tags))))
            await session.execute(sa.delete(SearchHashtag).where(SearchHashtag.tag.in_(tags)))
            session.add_all([SearchHashtag(tag=t, clip_count=n) for t, n in counts.items() if n > 0])
            await session.flush()
            await self._index_tags(session, added=sorted(set(counts) - known), removed=sorted(known - set(counts)))
            await self._add_variants(session, [w for t in sorted(set(counts) - known) for w in neighbourhood_words(t)])
        if owners:
            found: dict[int, int] = {int(o): int(n) for o, n in (await session.execute(
                sa.select(SearchClip.owner_id, sa.func.count()).where(SearchClip.owner_id.in_(owners))
                .group_by(SearchClip.owner_id))).all()}
            creators = set(await session.scalars(
                sa.select(SearchCreator.user_id).where(SearchCreator.user_id.in_(owners))))
            if creators:  # ORM bulk UPDATE by primary key: one statement, executemany
                await session.execute(sa.update(SearchCreator),
                                      [{"user_id": o, "clip_count": found.get(o, 0)} for o in creators])

    # --- reads ---------------------------------------------------------------------------
    async def clip_ids_of(self, owner_id: int) -> list[int]:
        async with self.db.read_session() as session:
            return list(await session.scalars(sa.select(SearchClip.clip_id).where(SearchClip.owner_id == owner_id)))

    async def clip_candidates(self, terms: list[str], *, filters: ClipFilters, limit: int,
                              near: dict[str, list[str]] | None = None, words: bool = True,
                              pieces: bool = True, held: Collection[int] = ()) -> list[ClipText]:
        if not terms:
            return []
        near = {t: [w for w in ws if w not in terms] for t, ws in (near or {}).items() if t in terms}
        async with self.db.read_session() as session:
            ids = await self._clip_ids(session, terms, near, limit, words=words, pieces=pieces)
            return await self._texts(session, [i for i in ids if i not in held] if held else ids, filters)

    async def clips(self, clip_ids: list[int], *, filters: ClipFilters | None = None) -> list[ClipDocument]:
        async with self.db.read_session() as session:
            return await self._documents(session, clip_ids, filters or ClipFilters())

    async def _texts(self, session: AsyncSession, ids: list[int], filters: ClipFilters) -> list[ClipText]:
        """The text fields of the clips ``ids`` that pass ``filters``, in that order: columns,
        not ORM objects, and no date among them (a search reads up to 300)."""
        if not ids:
            return []
        if filters == NO_FILTERS:  # the usual case: the publication time comes as seconds
            found = await self._fetch_in(session, "SELECT clip_id, owner_id, caption, tags, handle, display_name, "
                                         f"detected_text, {self.PUBLISHED_SECONDS} FROM search_clips "
                                         "WHERE clip_id IN ({values})", ids)
            seconds: Callable[[Any], float] = float
        else:
            found = await read_rows(session, _filtered(_TEXTS, filters), {"ids": ids})
            seconds = _seconds
        rows = {r[0]: r for r in found}
        return [ClipText(r[0], r[1], r[2], tuple(r[3].split()), r[4], r[5], r[6], seconds(r[7]))
                for r in (rows.get(i) for i in ids) if r is not None]

    async def _documents(self, session: AsyncSession, ids: list[int], filters: ClipFilters) -> list[ClipDocument]:
        if not ids:
            return []
        rows = {r[0]: r for r in await read_rows(session, _filtered(_DOCUMENTS, filters), {"ids": ids})}
        return [ClipDocument(clip_id=r[0], owner_id=r[1], caption=r[2], tags=tuple(r[3].split()), handle=r[4],
                             display_name=r[5], published_at=r[6], detected_text=r[7], language=r[8],
                             duration_ms=r[9])
                for r in (rows.get(i) for i in ids) if r is not None]

    async def hashtag(self, tag: str) -> HashtagCount | None:
        async with self.db.read_session() as session:
            row = await session.get(SearchHashtag, tag)
        return HashtagCount(row.tag, row.clip_count) if row is not None and row.clip_count > 0 else None

    async def clip_ids_tagged(self, tag: str, *, limit: int) -> list[int]:
        async with self.db.read_session() as session:
            return list(await session.scalars(
                sa.select(SearchClip.clip_id).join(SearchClipTag, SearchClipTag.clip_id == SearchClip.clip_id)
                .where(SearchClipTag.tag == tag).order_by(SearchClip.published_at.desc(), SearchClip.clip_id.desc())
                .limit(limit)))

    async def related_hashtags(self, tag: str, *, limit: int) -> list[HashtagCount]:
        other = aliased(SearchClipTag)
        async with self.db.read_session() as session:
            rows = (await session.execute(
                sa.select(other.tag, sa.func.count()).join(SearchClipTag, SearchClipTag.clip_id == other.clip_id)
                .where(SearchClipTag.tag == tag, other.tag != tag).group_by(other.tag)
                .order_by(sa.func.count().desc(), other.tag).limit(limit))).all()
        return [HashtagCount(t, int(n)) for t, n in rows]

    async def top_hashtags(self, *, limit: int) -> list[HashtagCount]:
        async with self.db.read_session() as session:
            rows = await session.scalars(sa.select(SearchHashtag).where(SearchHashtag.clip_count > 0)
                                         .order_by(SearchHashtag.clip_count.desc(), SearchHashtag.tag).limit(limit))
            return [HashtagCount(r.tag, r.clip_count) for r in rows]

    async def top_creators(self, *, limit: int, newest: bool = False) -> list[CreatorDocument]:
        order = (SearchCreator.user_id.desc(),) if newest else (SearchCreator.clip_count.desc(), SearchCreator.handle)
        async with self.db.read_session() as session:
            rows = await session.scalars(sa.select(SearchCreator).where(SearchCreator.clip_count > 0)
                                         .order_by(*order).limit(limit))
            return [CreatorDocument(r.user_id, r.handle, r.display_name, r.clip_count) for r in rows]

    async def creator_candidates(self, terms: list[str], *, limit: int) -> list[CreatorDocument]:
        if not terms:
            return []
        async with self.db.read_session() as session:
            return await self._creator_candidates(session, terms, limit)

    async def creators_starting(self, prefix: str, *, limit: int) -> list[CreatorDocument]:
        if not prefix:
            return []
        async with self.db.read_session() as session:
            return await self._handles_starting(session, fold(prefix), limit)

    async def hashtags_starting(self, prefix: str, *, limit: int) -> list[HashtagCount]:
        if not prefix:
            return []
        async with self.db.read_session() as session:
            return await self._tags_starting(session, fold(prefix), limit)

    async def term_neighbours(self, terms: dict[str, int], *, limit: int) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        low, high = NEIGHBOURHOOD
        asked = {t: deletions(t, min(edits, NEIGHBOUR_EDITS)) for t, edits in terms.items()
                 if edits > 0 and low - 1 <= len(t) <= high + NEIGHBOUR_EDITS}
        if not asked:
            return out
        async with self.db.read_session() as session:
            rows = await self._fetch_in(session, "SELECT variant, word FROM search_term_variants "
                                        "WHERE variant IN ({values})", sorted(set().union(*asked.values())))
        for term, variants in asked.items():
            out[term] = sorted({w for v, w in rows if v in variants and w != term})[:limit]
        return out

    async def hashtag_candidates(self, terms: list[str], *, limit: int) -> list[HashtagCount]:
        if not terms:
            return []
        async with self.db.read_session() as session:
            return await self._tag_candidates(session, terms, limit)

    async def _tags_in_order(self, session: AsyncSession, names: list[str]) -> list[HashtagCount]:
        """The hashtags ``names`` names with their counts, in that order (one gone meanwhile is
        left out)."""
        if not names:
            return []
        rows: dict[str, int] = {t: n for t, n in await self._fetch_in(
            session, "SELECT tag, clip_count FROM search_hashtags WHERE tag IN ({values})", names)}
        return [HashtagCount(t, int(rows[t])) for t in names if t in rows]

    async def _creators_in_order(self, session: AsyncSession, ids: list[int]) -> list[CreatorDocument]:
        """The creators ``ids`` names, in that order (an ID gone meanwhile is left out)."""
        if not ids:
            return []
        rows = {r[0]: r for r in await self._fetch_in(
            session, "SELECT user_id, handle, display_name, clip_count FROM search_creators "
            "WHERE user_id IN ({values})", ids)}
        return [CreatorDocument(int(r[0]), r[1], r[2], int(r[3])) for r in (rows.get(i) for i in ids) if r is not None]
