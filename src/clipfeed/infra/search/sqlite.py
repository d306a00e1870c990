"""SQLite FTS5 engine (embedded). Two views of each clip's folded text:

* ``search_fts_clips_words`` — ``porter unicode61`` words: whole words, prefixes (``kitt*``)
  and English word forms (``falls`` ~ ``fall``);
* ``search_fts_clips_tri`` — ``trigram``: any three-letter piece, so a word with a typo still
  shares most of its trigrams with the right one, and a piece inside a word (``kitty`` in
  ``#kittycat``) is found.

A query asks the words first, whole words before prefixes, and each only while the ones
before left room under ``limit``: every term (``AND``; a term with typo neighbours, from
``search_term_variants``, as itself or one of them), then any of them; then the trigrams (a
typo or a piece of a word). Each words step takes the newest matches, an index walk that
stops at ``limit``: ranking a word found in most captions would rank the whole table (bm25
over a pool of 1,000 cost 4 ms a query, a prefix of a common word 80 ms at 100k clips), and
the scorer re-ranks the candidates anyway; pieces of words are ranked (bm25 over the newest
``POOL``), since the newest clips sharing any one trigram are mostly noise. A common word
fills the pool with whole-word matches, so its prefix, whose index merge costs in proportion
to the clips holding it, is not asked.
Creators are found by word (whole, then as prefixes, the most clips first) and then, while
that leaves room, by trigrams; hashtags, short strings, by trigrams; both by a ``LIKE`` prefix
for terms under three letters. Completions (suggest) use a prefix range on the folded handle (an expression
index) and on the hashtag, which an index answers whatever the prefix's length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.infra.db import read_rows
from clipfeed.infra.search import CreatorDocument, HashtagCount
from clipfeed.infra.search.store import SqlSearchIndex
from clipfeed.infra.search.tables import SearchCreator, SearchHashtag
from clipfeed.infra.search.text import trigrams

TEXT_TABLES = ("search_fts_clips_words", "search_fts_clips_tri", "search_fts_creators", "search_fts_creators_words",
               "search_fts_hashtags")
CREATOR_TABLES = ("search_fts_creators", "search_fts_creators_words")


def trigram_match(terms: list[str]) -> str:
    """An FTS5 query: any trigram of any term (terms are ``\\w`` runs, so quoting is safe)."""
    grams = dict.fromkeys(g for term in terms for g in trigrams(term))
    return " OR ".join(f'"{g}"' for g in grams)


def word_match(terms: list[str], operator: str = "OR", *, prefix: bool = True,
               near: dict[str, list[str]] | None = None) -> str:
    """An FTS5 query of the terms' words (``*``: as prefixes too); with ``near``, a term stands
    for itself or any of its neighbours."""
    star = "*" if prefix else ""
    parts = []
    for term in dict.fromkeys(terms):
        group = list(dict.fromkeys([term, *(near or {}).get(term, [])]))
        parts.append(f'"{group[0]}"{star}' if len(group) == 1 else
                     "(" + " OR ".join(f'"{w}"{star}' for w in group) + ")")
    return f" {operator} ".join(parts)


POOL = 1000  # matches ranked by bm25 (pieces of words), newest first


def _pooled(table: str) -> str:
    return (f"SELECT rowid AS id FROM (SELECT rowid, rank FROM {table} WHERE {table} MATCH :match "
            f"ORDER BY rowid DESC LIMIT {POOL}) ORDER BY rank LIMIT :limit")


def _newest(table: str) -> str:
    return f"SELECT rowid FROM {table} WHERE {table} MATCH :match ORDER BY rowid DESC LIMIT :limit"


def _merge(*lists: list[int], limit: int) -> list[int]:
    return list(dict.fromkeys(i for ids in lists for i in ids))[:limit]


def _after(prefix: str) -> str:
    """The first string greater than every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class SQLiteSearchIndex(SqlSearchIndex):
    # Stored as text, 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: whole seconds, then the fraction.
    PUBLISHED_SECONDS = "CAST(strftime('%s', published_at) AS INTEGER) + CAST(substr(published_at, 20) AS REAL)"

    async def _index_clips(self, session: AsyncSession, clips: list[tuple[int, str]]) -> None:
        if not clips:  # an executemany of no rows is deprecated in SQLAlchemy (an error to come)
            return
        rows = [{"id": i, "doc": d} for i, d in clips]
        for table in ("search_fts_clips_words", "search_fts_clips_tri"):
            await session.execute(sa.text(f"INSERT INTO {table}(rowid, document) VALUES (:id, :doc)"), rows)

    async def _unindex_clips(self, session: AsyncSession, clip_ids: list[int]) -> None:
        if not clip_ids:
            return
        for table in ("search_fts_clips_words", "search_fts_clips_tri"):
            await session.execute(sa.text(f"DELETE FROM {table} WHERE rowid = :id"), [{"id": i} for i in clip_ids])

    async def _index_creators(self, session: AsyncSession, creators: list[tuple[int, str]]) -> None:
        if not creators:
            return
        rows = [{"id": i, "doc": d} for i, d in creators]
        for table in CREATOR_TABLES:
            await session.execute(sa.text(f"INSERT INTO {table}(rowid, document) VALUES (:id, :doc)"), rows)

    async def _unindex_creators(self, session: AsyncSession, user_ids: list[int]) -> None:
        if not user_ids:
            return
        for table in CREATOR_TABLES:
            await session.execute(sa.text(f"DELETE FROM {table} WHERE rowid = :id"), [{"id": i} for i in user_ids])

    async def _index_tags(self, session: AsyncSession, added: list[str], removed: list[str]) -> None:
        if removed:
            await session.execute(sa.text("DELETE FROM search_fts_hashtags WHERE tag = :tag"),
                                  [{"tag": t} for t in removed])
        if added:
            await session.execute(sa.text("INSERT INTO search_fts_hashtags(tag) VALUES (:tag)"),
                                  [{"tag": t} for t in added])

    async def _clear_text(self, session: AsyncSession) -> None:
        for table in TEXT_TABLES:
            await session.execute(sa.text(f"DELETE FROM {table}"))

    async def _fetch(self, session: AsyncSession, sql: str,
                     params: Mapping[str, object] | None = None) -> Sequence[Sequence[Any]]:
        # aiosqlite's ``execute_fetchall``: the statement, its rows and the cursor's close in
        # one hand-off to the connection's thread, where SQLAlchemy's cursor makes four (cursor,
        # execute, fetch, close), each a queue put, a thread wake-up and an event-loop wake-up:
        # 0.1 ms of CPU a statement against 0.65 ms. On the session's own connection, inside
        # its transaction; reads only. Another driver: SQLAlchemy's way.
        connection = await session.connection()
        driver = (await connection.get_raw_connection()).driver_connection
        fetch_all = getattr(driver, "execute_fetchall", None)
        if fetch_all is None:
            return await super()._fetch(session, sql, params)
        return list(await fetch_all(sql, params or {}))

    async def _fetch_in(self, session: AsyncSession, sql: str, values: Sequence[object],
                        params: Mapping[str, object] | None = None) -> Sequence[Sequence[Any]]:
        names = {f"v{i}": v for i, v in enumerate(values)}
        return await self._fetch(session, sql.format(values=", ".join(f":{n}" for n in names)),
                                 {**(params or {}), **names})

    async def _ranked(self, session: AsyncSession, sql: str, match: str, limit: int) -> list[int]:
        if not match:
            return []
        return [int(r[0]) for r in await self._fetch(session, sql, {"match": match, "limit": limit})]

    async def _clip_ids(self, session: AsyncSession, terms: list[str], near: dict[str, list[str]], limit: int,
                        *, words: bool, pieces: bool) -> list[int]:
        found: list[int] = []
        steps = [("AND", False), ("AND", True)] if len(terms) > 1 else []
        for operator, prefix in [*steps, ("OR", False), ("OR", True)] if words else []:
            if len(found) >= limit:
                return found
            match = word_match(terms, operator, prefix=prefix, near=near)
            found = _merge(found, await self._ranked(session, _newest("search_fts_clips_words"), match, limit),
                           limit=limit)
        if len(found) >= limit or not pieces:
            return found
        # Pieces of words are ranked (bm25 over the newest pool): the newest clips sharing any
        # one trigram of a word are mostly noise.
        by_grams = await self._ranked(session, _pooled("search_fts_clips_tri"), trigram_match(terms), limit)
        return _merge(found, by_grams, limit=limit)

    async def _handles_starting(self, session: AsyncSession, prefix: str, limit: int) -> list[CreatorDocument]:
        return _creators(await self._fetch(
            session, "SELECT user_id, handle, display_name, clip_count FROM search_creators "
            "WHERE lower(handle) >= :low AND lower(handle) < :high ORDER BY clip_count DESC, handle LIMIT :limit",
            {"low": prefix, "high": _after(prefix), "limit": limit}))

    async def _tags_starting(self, session: AsyncSession, prefix: str, limit: int) -> list[HashtagCount]:
        rows = await self._fetch(session, "SELECT tag, clip_count FROM search_hashtags WHERE tag >= :low "
                                 "AND tag < :high AND clip_count > 0 ORDER BY clip_count DESC, tag LIMIT :limit",
                                 {"low": prefix, "high": _after(prefix), "limit": limit})
        return [HashtagCount(str(t), int(n)) for t, n in rows]

    async def _creator_candidates(self, session: AsyncSession, terms: list[str],
                                  limit: int) -> list[CreatorDocument]:
        # As on PostgreSQL: words first (the handle's parts and the name, whole, then as
        # prefixes; the most clips first), pieces of words only while they leave room. Ranking
        # the trigram pool was 2.3 ms of a side list's 2.5 at 20k creators, and a word found
        # whole ranks above any piece of one anyway. Each step brings the creators' columns
        # back with their IDs (a second statement per step was a third of a side list's cost).
        found: list[CreatorDocument] = []
        for prefix in (False, True):
            found = _first(found, _creators(await self._fetch(
                session, "SELECT c.user_id, c.handle, c.display_name, c.clip_count FROM search_fts_creators_words "
                "AS f JOIN search_creators AS c ON c.user_id = f.rowid WHERE search_fts_creators_words MATCH :match "
                "ORDER BY c.clip_count DESC, c.user_id LIMIT :limit",
                {"match": word_match(terms, prefix=prefix), "limit": limit})))
            if len(found) >= limit:
                return found[:limit]
        if match := trigram_match(terms):
            # LEFT JOIN: the ranked pool stays the outer loop, so its order is kept.
            found = _first(found, _creators(await self._fetch(
                session, f"SELECT f.id, c.handle, c.display_name, c.clip_count FROM ({_pooled('search_fts_creators')}) "
                "AS f LEFT JOIN search_creators AS c ON c.user_id = f.id", {"match": match, "limit": limit})))
        if len(found) < limit and (short := [t for t in terms if len(t) < 3]):
            found = _first(found, _creators(await read_rows(session, sa.select(
                SearchCreator.user_id, SearchCreator.handle, SearchCreator.display_name, SearchCreator.clip_count)
                .where(sa.or_(*[SearchCreator.handle.startswith(t, autoescape=True) for t in short])).limit(limit))))
        return found[:limit]

    async def _tag_candidates(self, session: AsyncSession, terms: list[str], limit: int) -> list[HashtagCount]:
        by_grams: list[HashtagCount] = []
        if match := trigram_match(terms):
            rows = await self._fetch(
                session, "SELECT f.tag, h.clip_count FROM (SELECT tag FROM (SELECT tag, rank FROM search_fts_hashtags "
                f"WHERE search_fts_hashtags MATCH :match ORDER BY rowid DESC LIMIT {POOL}) ORDER BY rank LIMIT :limit) "
                "AS f LEFT JOIN search_hashtags AS h ON h.tag = f.tag", {"match": match, "limit": limit})
            by_grams = [HashtagCount(str(t), int(n)) for t, n in rows if n is not None]
        short = [t for t in terms if len(t) < 3]
        by_prefix: list[HashtagCount] = []
        if short:
            by_prefix = [HashtagCount(str(t), int(n)) for t, n in await read_rows(session, sa.select(
                SearchHashtag.tag, SearchHashtag.clip_count)
                .where(sa.or_(*[SearchHashtag.tag.startswith(t, autoescape=True) for t in short]))
                .order_by(SearchHashtag.clip_count.desc()).limit(limit))]
        return list({t.tag: t for t in [*by_prefix, *by_grams]}.values())[:limit]


def _first(found: list[CreatorDocument], more: list[CreatorDocument]) -> list[CreatorDocument]:
    """``found``, then those of ``more`` not in it (a creator keeps its first place)."""
    return list({c.user_id: c for c in [*found, *more]}.values())


def _creators(rows: Sequence[Any]) -> list[CreatorDocument]:
    """Creator rows (ID, handle, name, clips); an ID whose row is gone meanwhile is left out."""
    return [CreatorDocument(int(i), h, n, int(c)) for i, h, n, c in rows if h is not None]
