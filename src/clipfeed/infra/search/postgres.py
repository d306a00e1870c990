"""PostgreSQL engine (at scale): ``tsvector`` for words and prefixes, ``pg_trgm`` word
similarity for typos and pieces of words. Both are GIN indexes over what the database derives
from the portable ``document`` columns (expressions, migration ``search_0001``; a clip's words as
a stored generated column, ``search_0006``), so nothing extra is written per clip: the text
index follows the row in the same transaction."""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any
from weakref import WeakKeyDictionary

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.infra.db import Database, read_rows
from clipfeed.infra.search import CreatorDocument, HashtagCount
from clipfeed.infra.search.store import SqlSearchIndex
from clipfeed.infra.search.text import trigrams

# pg_trgm's default (0.6) misses one typo in a five-letter word; 0.5 keeps it and the scorer
# drops what is too far.
WORD_SIMILARITY = 0.5
# Matches ranked per query: the first found (a bitmap scan stops there). Ranking every match
# of a word found in most documents recomputes each one's tsvector or similarity.
POOL = 300

# Word steps take the newest matches, as on SQLite (whose FTS5 tables are walked in ID order).
# A GIN index knows no order, so "the newest" is asked of the newest ``NEWEST_WINDOW`` clips
# first (a common word: a walk down the primary key, each row's stored words checked, that stops
# once it has enough), then of the older clips only when a rarer word has not filled the
# candidates (a bitmap of its matches, sorted). Unbounded, the walk down the key was the
# planner's choice for a word in 3 % of 100k clips and took 636 ms; the first matches found
# without an order were the oldest (table order), so a popular word never found a new clip.
NEWEST_WINDOW = 20_000
FLOOR_TTL_S = 60.0
_floors: WeakKeyDictionary[Database, tuple[int, float]] = WeakKeyDictionary()
_FLOOR = sa.text("SELECT clip_id FROM search_clips ORDER BY clip_id DESC OFFSET :offset LIMIT 1")
_NEWEST = sa.text("SELECT clip_id FROM search_clips WHERE clip_id >= :floor AND fts_words @@ to_tsquery('simple', :q) "
                  "ORDER BY clip_id DESC LIMIT :limit")
# OFFSET 0 keeps the planner from walking the key over every older clip: the matches first.
_OLDER = sa.text("SELECT clip_id FROM (SELECT clip_id FROM search_clips WHERE clip_id < :floor "
                 "AND fts_words @@ to_tsquery('simple', :q) OFFSET 0) AS older ORDER BY clip_id DESC LIMIT :limit")


# The creators' words step (``_creator_ids``), built once.
_CREATOR_WORDS = sa.text("SELECT user_id FROM search_creators WHERE to_tsvector('simple', document) "
                         "@@ to_tsquery('simple', :q) ORDER BY clip_count DESC, user_id LIMIT :limit")


@functools.lru_cache(maxsize=512)
def _text(sql: str) -> sa.TextClause:
    """``sql`` as a statement, built once per text: parsing a statement's parameters and its
    cache key cost more than running it. ``_query``'s statements vary in shape with the number
    of terms and of their pieces, so the cache is bounded (a few hundred shapes cover the
    queries of one to a few words)."""
    return sa.text(sql)


class PostgresSearchIndex(SqlSearchIndex):
    PUBLISHED_SECONDS = "extract(epoch FROM published_at)::float8"  # numeric otherwise: a Decimal each

    # The text index is the row itself (expression indexes): nothing to keep in step.
    async def _index_clips(self, session: AsyncSession, clips: list[tuple[int, str]]) -> None:
        return None

    async def _unindex_clips(self, session: AsyncSession, clip_ids: list[int]) -> None:
        return None

    async def _index_creators(self, session: AsyncSession, creators: list[tuple[int, str]]) -> None:
        return None

    async def _unindex_creators(self, session: AsyncSession, user_ids: list[int]) -> None:
        return None

    async def _index_tags(self, session: AsyncSession, added: list[str], removed: list[str]) -> None:
        return None

    async def _clear_text(self, session: AsyncSession) -> None:
        return None

    async def _query(self, session: AsyncSession, sql: str, terms: list[str], column: str, limit: int,
                     prefix_column: str | None = None) -> list[object]:
        """Run ``sql`` with ``{match}``, ``{similarity}`` and ``{pool}`` filled in. A row matches when a term
        is similar to one of its words (``<%``), or shares a three-letter piece with it (as the
        SQLite engine's trigram table does: short words with a typo share too few trigrams for
        a similarity threshold), or, with ``prefix_column``, starts with a term. Similarity: the
        terms' word similarities plus the share of their pieces found."""
        unique = list(dict.fromkeys(terms))
        grams = list(dict.fromkeys(g for t in unique for g in trigrams(t)))
        params: dict[str, object] = {f"t{i}": t for i, t in enumerate(unique)}
        params.update({f"g{i}": f"%{_escape(g)}%" for i, g in enumerate(grams)})
        params["limit"] = limit
        # A word similar to a term shares a three-letter piece with it: the pieces' LIKEs (cheap,
        # indexed) find it, and ``<%`` (a similarity per row) is asked only of terms without any.
        match = [f":t{i} <% {column}" for i, t in enumerate(unique) if not trigrams(t)]
        match += [f"{column} LIKE :g{i}" for i in range(len(grams))]
        if prefix_column is not None:
            params.update({f"p{i}": _escape(t) + "%" for i, t in enumerate(unique)})
            match += [f"{prefix_column} LIKE :p{i}" for i in range(len(unique))]
        similarity = " + ".join(f"word_similarity(:t{i}, {column})" for i in range(len(unique)))
        if grams:
            hits = " + ".join(f"({column} LIKE :g{i})::int" for i in range(len(grams)))
            similarity += f" + ({hits})::float / {len(grams)}"
        if any(not trigrams(t) for t in unique):  # ``<%`` is asked: its threshold
            await session.execute(sa.text(f"SET LOCAL pg_trgm.word_similarity_threshold = {WORD_SIMILARITY}"))
        # Quoted: each term is one operand whatever the parser makes of it (``a_b`` → 'a' <-> 'b',
        # a symbol it drops → no operand), never a syntax error. Terms are \w runs: no quote.
        params["tsq"] = " | ".join(f"'{t}':*" for t in unique)
        rows = await read_rows(session, _text(sql.format(match=" OR ".join(match), similarity=similarity, pool=POOL)),
                               params)
        return [r[0] for r in rows]

    async def _fetch_in(self, session: AsyncSession, sql: str, values: Sequence[object],
                        params: Mapping[str, object] | None = None) -> Sequence[Sequence[Any]]:
        # The list as one array parameter (``= ANY``), not one placeholder per value: the
        # statement's text stays the same whatever the list's length, so psycopg converts it
        # once and prepares it, where 300 placeholders (a search's documents) were a new text
        # to split and send each time, a few ms of the client's CPU per search.
        return await self._fetch(session, sql.replace(" IN ({values})", " = ANY(:values)"),
                                 {**(params or {}), "values": list(values)})

    async def _newest_floor(self, session: AsyncSession) -> int:
        """The ID of the ``NEWEST_WINDOW``-th newest clip (0 with fewer clips), kept per process
        for ``FLOOR_TTL_S``: an index-only walk of that many keys."""
        kept = _floors.get(self.db)
        now = time.monotonic()
        if kept is not None and kept[1] > now:
            return kept[0]
        floor = await session.scalar(_FLOOR, {"offset": NEWEST_WINDOW})
        _floors[self.db] = (int(floor or 0), now + FLOOR_TTL_S)
        return int(floor or 0)

    async def _newest(self, session: AsyncSession, query: str, limit: int) -> list[int]:
        """The newest ``limit`` clips matching the ``tsquery``: among the newest
        ``NEWEST_WINDOW`` clips (a walk down the clip IDs checking each row's stored words stops
        at ``limit``, and cannot go further than the window), then, for a word too rare to fill
        that, among the older ones (every older match, sorted: few, for such a word)."""
        floor = await self._newest_floor(session)
        found = [int(r[0]) for r in await read_rows(session, _NEWEST, {"q": query, "limit": limit, "floor": floor})]
        if len(found) < limit and floor:
            found += [int(r[0]) for r in await read_rows(session, _OLDER, {"q": query, "limit": limit - len(found),
                                                                           "floor": floor})]
        return found

    async def _clip_ids(self, session: AsyncSession, terms: list[str], near: dict[str, list[str]], limit: int,
                        *, words: bool, pieces: bool) -> list[int]:
        # Words first: every term, then any (a term as itself or a neighbour), whole words
        # before prefixes, each only while the ones before left room (a prefix of a common word
        # matches most rows of the index), the newest matches of each. Operands quoted, see _query.
        found: list[int] = []
        steps = [(" & ", ""), (" & ", ":*")] if len(terms) > 1 else []
        for operator, star in [*steps, (" | ", ""), (" | ", ":*")] if words else []:
            if len(found) >= limit:
                return found[:limit]
            groups = [list(dict.fromkeys([t, *near.get(t, [])])) for t in dict.fromkeys(terms)]
            query = operator.join("(" + " | ".join(f"'{w}'{star}" for w in group) + ")" for group in groups)
            found = list(dict.fromkeys([*found, *await self._newest(session, query, limit)]))
        if len(found) >= limit or not pieces:
            return found[:limit]
        sql_grams = ("SELECT clip_id FROM (SELECT clip_id, document FROM search_clips WHERE {match} LIMIT {pool}) "
                     "AS pool ORDER BY {similarity} DESC, clip_id DESC LIMIT :limit")
        grams = [int(str(i)) for i in await self._query(session, sql_grams, terms, "lower(document)", limit)]
        return list(dict.fromkeys([*found, *grams]))[:limit]

    async def _creator_candidates(self, session: AsyncSession, terms: list[str],
                                  limit: int) -> list[CreatorDocument]:
        return await self._creators_in_order(session, await self._creator_ids(session, terms, limit))

    async def _tag_candidates(self, session: AsyncSession, terms: list[str], limit: int) -> list[HashtagCount]:
        return await self._tags_in_order(session, await self._tag_names(session, terms, limit))

    async def _creator_ids(self, session: AsyncSession, terms: list[str], limit: int) -> list[int]:
        # Words first (the handle's parts and the name, whole, then as prefixes; the most clips
        # first), pieces of words only while they leave room: a common three-letter piece is in
        # thousands of creators, and the pieces' similarity is computed for each of them.
        found: list[int] = []
        for star in ("", ":*"):
            query = " | ".join(f"'{t}'{star}" for t in dict.fromkeys(terms))
            rows = await read_rows(session, _CREATOR_WORDS, {"q": query, "limit": limit})
            found = list(dict.fromkeys([*found, *(int(r[0]) for r in rows)]))
            if len(found) >= limit:
                return found[:limit]
        sql = ("SELECT user_id FROM (SELECT user_id, clip_count, handle, document FROM search_creators WHERE {match} "
               "LIMIT {pool}) AS pool ORDER BY {similarity} DESC, clip_count DESC, user_id LIMIT :limit")
        # The document starts with the handle: its prefix is one the trigram index answers.
        grams = await self._query(session, sql, terms, "lower(document)", limit, prefix_column="lower(document)")
        return list(dict.fromkeys([*found, *(int(str(i)) for i in grams)]))[:limit]

    async def _tag_names(self, session: AsyncSession, terms: list[str], limit: int) -> list[str]:
        sql = ("SELECT tag FROM (SELECT tag, clip_count FROM search_hashtags WHERE {match} LIMIT {pool}) AS pool "
               "ORDER BY {similarity} DESC, clip_count DESC, tag LIMIT :limit")
        return [str(t) for t in await self._query(session, sql, terms, "lower(tag)", limit, prefix_column="lower(tag)")]

    async def _handles_starting(self, session: AsyncSession, prefix: str, limit: int) -> list[CreatorDocument]:
        # ``text_pattern_ops`` index on lower(handle) (migration search_0004): LIKE 'ab%' is a range.
        rows = await self._fetch(session, "SELECT user_id, handle, display_name, clip_count FROM search_creators "
                                 "WHERE lower(handle) LIKE :p ORDER BY clip_count DESC, handle LIMIT :limit",
                                 {"p": _escape(prefix) + "%", "limit": limit})
        return [CreatorDocument(int(i), h, n, int(c)) for i, h, n, c in rows]

    async def _tags_starting(self, session: AsyncSession, prefix: str, limit: int) -> list[HashtagCount]:
        rows = await self._fetch(session, "SELECT tag, clip_count FROM search_hashtags WHERE tag LIKE :p "
                                 "AND clip_count > 0 ORDER BY clip_count DESC, tag LIMIT :limit",
                                 {"p": _escape(prefix) + "%", "limit": limit})
        return [HashtagCount(str(t), int(n)) for t, n in rows]


def _escape(text: str) -> str:
    """``text`` taken literally inside a LIKE pattern (backslash is PostgreSQL's escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
