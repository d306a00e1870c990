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
    await record_many(db=db, counts={(region, query): 1})


async def record_many(*, db: Database, counts: dict[tuple[str, str], int]) -> None:
    """Add ``counts`` (region and query → searches) to the log in one transaction."""
    batch: dict[tuple[str, str], int] = {}
    for (region, query), n in counts.items():
        if folded := " ".join(words(query))[:100]:
            batch[(region, folded)] = batch.get((region, folded), 0) + n
    if not batch:
        return
    for _ in range(2):  # a concurrent first insert of the same query: count on its row
        try:
            async with db.session() as session:
                for (region, query), n in sorted(batch.items()):
                    done = await session.execute(
                        sa.update(SearchQueryCount)
                        .where(SearchQueryCount.region == region, SearchQueryCount.query == query)
                        .values(count=SearchQueryCount.count + n, last_at=utcnow()))
                    if done.rowcount == 0:  # type: ignore[attr-defined]
                        session.add(SearchQueryCount(region=region, query=query, count=n, last_at=utcnow()))
            return
        except IntegrityError:
            continue


async def popular(*, db: Database, region: str, prefix: str, limit: int) -> list[tuple[str, int]]:
    prefix = " ".join(words(prefix)) + (" " if prefix.endswith(" ") else "")
    if not prefix.strip():
        return []
    # A prefix is a range of an index: the primary key (region, query) on SQLite, whose LIKE
    # ignores case and so no index; a text_pattern_ops index on PostgreSQL (search_0004).
    if db.is_sqlite:
        starts = sa.and_(SearchQueryCount.query >= prefix,
                         SearchQueryCount.query < prefix[:-1] + chr(ord(prefix[-1]) + 1))
    else:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        starts = SearchQueryCount.query.like(escaped + "%", escape="\\")
    async with db.session() as session:
        rows = (await session.execute(
            sa.select(SearchQueryCount.query, SearchQueryCount.count)
            .where(SearchQueryCount.region == region, starts, SearchQueryCount.count >= MIN_COUNT)
            .order_by(SearchQueryCount.count.desc(), SearchQueryCount.query).limit(limit * 3))).all()
        blocked = set(await session.scalars(sa.select(SearchQueryBlock.word)))
    return [(q, n) for q, n in rows if not blocked.intersection(q.split())][:limit]


async def block(*, db: Database, word: str) -> None:
    """Never suggest a query containing ``word`` (folded); idempotent."""
    word = fold(word.strip())
    async with db.session() as session:
        if await session.get(SearchQueryBlock, word) is None:
            session.add(SearchQueryBlock(word=word, created_at=utcnow()))
