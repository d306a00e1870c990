"""SQLite FTS5 engine (embedded). Two views of each clip's folded text:

* ``search_fts_clips_words`` — ``porter unicode61`` words: whole words, prefixes (``kitt*``)
  and English word forms (``falls`` ~ ``fall``);
* ``search_fts_clips_tri`` — ``trigram``: any three-letter piece, so a word with a typo still
  shares most of its trigrams with the right one, and a piece inside a word (``kitty`` in
  ``#kittycat``) is found.

A query asks the words first — every term (``AND``), then any term or an ``also`` word (a
typo's neighbour, ``search_term_variants``) — and the trigrams only when the words left room
(a typo or a piece of a word in a small catalogue; at scale the neighbours stand in). Each
asks the engine to rank only the newest ``POOL`` matches (bm25): a word in most captions
would otherwise make every query rank the whole table. Creators and hashtags are short
strings: trigrams, and a ``LIKE`` prefix for terms under three letters.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.infra.search.store import SqlSearchIndex
from clipfeed.infra.search.tables import SearchCreator, SearchHashtag
from clipfeed.infra.search.text import trigrams

TEXT_TABLES = ("search_fts_clips_words", "search_fts_clips_tri", "search_fts_creators", "search_fts_hashtags")


def trigram_match(terms: list[str]) -> str:
    """An FTS5 query: any trigram of any term (terms are ``\\w`` runs, so quoting is safe)."""
    grams = dict.fromkeys(g for term in terms for g in trigrams(term))
    return " OR ".join(f'"{g}"' for g in grams)


def word_match(terms: list[str], operator: str = "OR") -> str:
    return f" {operator} ".join(f'"{t}"*' for t in dict.fromkeys(terms))


POOL = 1000  # matches the engine ranks, newest first


def _pooled(table: str) -> str:
    return (f"SELECT rowid FROM (SELECT rowid, rank FROM {table} WHERE {table} MATCH :match "
            f"ORDER BY rowid DESC LIMIT {POOL}) ORDER BY rank LIMIT :limit")


def _merge(*lists: list[int], limit: int) -> list[int]:
    return list(dict.fromkeys(i for ids in lists for i in ids))[:limit]


class SQLiteSearchIndex(SqlSearchIndex):
    async def _index_clips(self, session: AsyncSession, clips: list[tuple[int, str]]) -> None:
        rows = [{"id": i, "doc": d} for i, d in clips]
        for table in ("search_fts_clips_words", "search_fts_clips_tri"):
            await session.execute(sa.text(f"INSERT INTO {table}(rowid, document) VALUES (:id, :doc)"), rows)

    async def _unindex_clips(self, session: AsyncSession, clip_ids: list[int]) -> None:
        for table in ("search_fts_clips_words", "search_fts_clips_tri"):
            await session.execute(sa.text(f"DELETE FROM {table} WHERE rowid = :id"), [{"id": i} for i in clip_ids])

    async def _index_creators(self, session: AsyncSession, creators: list[tuple[int, str]]) -> None:
        await session.execute(sa.text("INSERT INTO search_fts_creators(rowid, document) VALUES (:id, :doc)"),
                              [{"id": i, "doc": d} for i, d in creators])

    async def _unindex_creators(self, session: AsyncSession, user_ids: list[int]) -> None:
        await session.execute(sa.text("DELETE FROM search_fts_creators WHERE rowid = :id"),
                              [{"id": i} for i in user_ids])

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

    async def _ranked(self, session: AsyncSession, sql: str, match: str, limit: int) -> list[int]:
        if not match:
            return []
        rows = await session.execute(sa.text(sql), {"match": match, "limit": limit})
        return [int(r[0]) for r in rows]

    async def _clip_ids(self, session: AsyncSession, terms: list[str], also: list[str], limit: int) -> list[int]:
        words = _pooled("search_fts_clips_words")
        by_all = await self._ranked(session, words, word_match(terms, "AND"), limit) if len(terms) > 1 else []
        found = _merge(by_all, await self._ranked(session, words, word_match([*terms, *also]), limit), limit=limit)
        if len(found) >= limit:
            return found
        by_grams = await self._ranked(session, _pooled("search_fts_clips_tri"), trigram_match(terms), limit)
        return _merge(found, by_grams, limit=limit)

    async def _creator_ids(self, session: AsyncSession, terms: list[str], limit: int) -> list[int]:
        by_grams = await self._ranked(session, _pooled("search_fts_creators"), trigram_match(terms), limit)
        short = [t for t in terms if len(t) < 3]
        by_prefix: list[int] = []
        if short:
            by_prefix = [int(i) for i in await session.scalars(
                sa.select(SearchCreator.user_id).where(sa.or_(*[SearchCreator.handle.startswith(t, autoescape=True)
                                                                for t in short])).limit(limit))]
        return _merge(by_prefix, by_grams, limit=limit)

    async def _tag_names(self, session: AsyncSession, terms: list[str], limit: int) -> list[str]:
        match = trigram_match(terms)
        by_grams: list[str] = []
        if match:
            rows = await session.execute(sa.text(
                "SELECT tag FROM (SELECT tag, rank FROM search_fts_hashtags WHERE search_fts_hashtags MATCH :match "
                f"ORDER BY rowid DESC LIMIT {POOL}) ORDER BY rank LIMIT :limit"),
                {"match": match, "limit": limit})
            by_grams = [str(r[0]) for r in rows]
        short = [t for t in terms if len(t) < 3]
        by_prefix: list[str] = []
        if short:
            by_prefix = list(await session.scalars(
                sa.select(SearchHashtag.tag).where(sa.or_(*[SearchHashtag.tag.startswith(t, autoescape=True)
                                                            for t in short]))
                .order_by(SearchHashtag.clip_count.desc()).limit(limit)))
        return list(dict.fromkeys([*by_prefix, *by_grams]))[:limit]
