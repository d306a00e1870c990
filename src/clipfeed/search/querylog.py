"""The query log behind suggestions: per region, a folded query and its count — no user,
device or address, so the log cannot tell who searched what. A query is only suggested once
``MIN_COUNT`` searches made it (one person's odd query is never shown to others), and never
if it contains a blocked word."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from clipfeed.infra.db import Database, utcnow
from clipfeed.infra.search.tables import SearchQueryBlock, SearchQueryCount
from clipfeed.infra.search.text import fold, words

MIN_COUNT = 3


async def record(*, db: Database, region: str, query: str) -> None:
    query = " ".join(words(query))[:100]
    if not query:
        return
    for _ in range(2):  # a concurrent first insert of the same query: count on its row
        try:
            async with db.session() as session:
                done = await session.execute(
                    sa.update(SearchQueryCount)
                    .where(SearchQueryCount.region == region, SearchQueryCount.query == query)
                    .values(count=SearchQueryCount.count + 1, last_at=utcnow()))
                if done.rowcount == 0:  # type: ignore[attr-defined]
                    session.add(SearchQueryCount(region=region, query=query, count=1, last_at=utcnow()))
            return
        except IntegrityError:
            continue


async def popular(*, db: Database, region: str, prefix: str, limit: int) -> list[tuple[str, int]]:
    prefix = " ".join(words(prefix)) + (" " if prefix.endswith(" ") else "")
    if not prefix.strip():
        return []
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    async with db.session() as session:
        rows = (await session.execute(
            sa.select(SearchQueryCount.query, SearchQueryCount.count)
            .where(SearchQueryCount.region == region, SearchQueryCount.count >= MIN_COUNT,
                   SearchQueryCount.query.like(escaped + "%", escape="\\"))
            .order_by(SearchQueryCount.count.desc(), SearchQueryCount.query).limit(limit * 3))).all()
        blocked = set(await session.scalars(sa.select(SearchQueryBlock.word)))
    return [(q, n) for q, n in rows if not blocked.intersection(q.split())][:limit]


async def block(*, db: Database, word: str) -> None:
    """Never suggest a query containing ``word`` (folded); idempotent."""
    word = fold(word.strip())
    async with db.session() as session:
        if await session.get(SearchQueryBlock, word) is None:
            session.add(SearchQueryBlock(word=word, created_at=utcnow()))
