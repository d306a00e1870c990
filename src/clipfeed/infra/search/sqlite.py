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
Creators and hashtags are short strings: trigrams, and a ``LIKE`` prefix for terms under
three letters. Completions (suggest) use a prefix range on the folded handle (an expression
index) and on the hashtag, which an index answers whatever the prefix's length.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.infra.db import read_rows
from clipfeed.infra.search.store import SqlSearchIndex
from clipfeed.infra.search.tables import SearchCreator, SearchHashtag
from clipfeed.infra.search.text import trigrams

TEXT_TABLES = ("search_fts_clips_words", "search_fts_clips_tri", "search_fts_creators", "search_fts_hashtags")


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
    return (f"SELECT rowid FROM (SELECT rowid, rank FROM {table} WHERE {table} MATCH :match "
            f"ORDER BY rowid DESC LIMIT {POOL}) ORDER BY rank LIMIT :limit")


def _newest(table: str) -> str:
    return f"SELECT rowid FROM {table} WHERE {table} MATCH :match ORDER BY rowid DESC LIMIT :limit"


def _merge(*lists: list[int], limit: int) -> list[int]:
    return list(dict.fromkeys(i for ids in lists for i in ids))[:limit]


def _after(prefix: str) -> str:
    """The first string greater than every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


class SQLiteSearchIndex(SqlSearchIndex):
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
        await session.execute(sa.text("INSERT INTO search_fts_creators(rowid, document) VALUES (:id, :doc)"),
                              [{"id": i, "doc": d} for i, d in creators])

    async def _unindex_creators(self, session: AsyncSession, user_ids: list[int]) -> None:
        if not user_ids:
            return
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
        rows = await read_rows(session, sa.text(sql), {"match": match, "limit": limit})
        return [int(r[0]) for r in rows]

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

    async def _handles_starting(self, session: AsyncSession, prefix: str, limit: int) -> list[int]:
        rows = await read_rows(session, sa.text(
            "SELECT user_id FROM search_creators WHERE lower(handle) >= :low AND lower(handle) < :high "
            "ORDER BY clip_count DESC, handle LIMIT :limit"), {"low": prefix, "high": _after(prefix), "limit": limit})
        return [int(r[0]) for r in rows]

    async def _tags_starting(self, session: AsyncSession, prefix: str, limit: int) -> list[str]:
        rows = await read_rows(session, sa.text(
            "SELECT tag FROM search_hashtags WHERE tag >= :low AND tag < :high AND clip_count > 0 "
            "ORDER BY clip_count DESC, tag LIMIT :limit"), {"low": prefix, "high": _after(prefix), "limit": limit})
        return [str(r[0]) for r in rows]

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
            rows = await read_rows(session, sa.text(
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
