"""PostgreSQL engine (at scale): ``tsvector`` for words and prefixes, ``pg_trgm`` word
similarity for typos and pieces of words. Both are expression GIN indexes over the portable
``document`` columns (migration ``search_0001``), so nothing extra is written per clip: the
text index follows the row in the same transaction."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.infra.search.store import SqlSearchIndex
from clipfeed.infra.search.text import trigrams

# pg_trgm's default (0.6) misses one typo in a five-letter word; 0.5 keeps it and the scorer
# drops what is too far.
WORD_SIMILARITY = 0.5
# Matches ranked per query: the first found (a bitmap scan stops there). Ranking every match
# of a word found in most documents recomputes each one's tsvector or similarity.
POOL = 300


class PostgresSearchIndex(SqlSearchIndex):
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
        await session.execute(sa.text(f"SET LOCAL pg_trgm.word_similarity_threshold = {WORD_SIMILARITY}"))
        # Quoted: each term is one operand whatever the parser makes of it (``a_b`` → 'a' <-> 'b',
        # a symbol it drops → no operand), never a syntax error. Terms are \w runs: no quote.
        params["tsq"] = " | ".join(f"'{t}':*" for t in unique)
        rows = await session.execute(sa.text(sql.format(match=" OR ".join(match), similarity=similarity,
                                                        pool=POOL)), params)
        return [r[0] for r in rows]

    async def _clip_ids(self, session: AsyncSession, terms: list[str], also: list[str], limit: int) -> list[int]:
        # Words first: every term, then any term or neighbour (operands quoted, see _query).
        found: list[int] = []
        words = "SELECT clip_id FROM search_clips WHERE to_tsvector('simple', document) @@ to_tsquery('simple', :q) "
        for operands, operator in ((terms, " & "), ([*terms, *also], " | ")):
            if operator == " & " and len(terms) < 2:
                continue
            query = operator.join(f"'{t}':*" for t in dict.fromkeys(operands))
            rows = await session.execute(sa.text(words + "LIMIT :limit"), {"q": query, "limit": limit})
            found = list(dict.fromkeys([*found, *(int(r[0]) for r in rows)]))
        if len(found) >= limit:
            return found[:limit]
        sql = ("SELECT clip_id FROM (SELECT clip_id, document FROM search_clips WHERE {match} LIMIT {pool}) AS pool "
               "ORDER BY {similarity} DESC, clip_id DESC LIMIT :limit")
        grams = [int(str(i)) for i in await self._query(session, sql, terms, "lower(document)", limit)]
        return list(dict.fromkeys([*found, *grams]))[:limit]

    async def _creator_ids(self, session: AsyncSession, terms: list[str], limit: int) -> list[int]:
        sql = ("SELECT user_id FROM (SELECT user_id, clip_count, handle, document FROM search_creators WHERE {match} "
               "LIMIT {pool}) AS pool ORDER BY {similarity} DESC, clip_count DESC, user_id LIMIT :limit")
        # The document starts with the handle: its prefix is one the trigram index answers.
        found = await self._query(session, sql, terms, "lower(document)", limit, prefix_column="lower(document)")
        return [int(str(i)) for i in found]

    async def _tag_names(self, session: AsyncSession, terms: list[str], limit: int) -> list[str]:
        sql = ("SELECT tag FROM (SELECT tag, clip_count FROM search_hashtags WHERE {match} LIMIT {pool}) AS pool "
               "ORDER BY {similarity} DESC, clip_count DESC, tag LIMIT :limit")
        return [str(t) for t in await self._query(session, sql, terms, "lower(tag)", limit, prefix_column="lower(tag)")]


def _escape(text: str) -> str:
    """``text`` taken literally inside a LIKE pattern (backslash is PostgreSQL's escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
