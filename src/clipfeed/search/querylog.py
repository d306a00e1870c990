"""The query log behind suggestions: per region, a folded query and its count — no user,
device or address, so the log cannot tell who searched what. A query is only suggested once
``MIN_COUNT`` searches made it (one person's odd query is never shown to others), and never
if it contains a blocked word."""

from __future__ import annotations

import time

import sqlalchemy as sa

from clipfeed.infra.db import Database, insert_for, read_rows, utcnow
from clipfeed.infra.search.tables import SearchQueryBlock, SearchQueryCount
from clipfeed.infra.search.text import fold, words

MIN_COUNT = 3
# Popular queries by (region, prefix), kept a few seconds per process: suggest asks on every
# letter typed, and a query's count only needs to have passed MIN_COUNT, so a new one shows
# within POPULAR_TTL_S. A block made by this process clears them at once (another process's
# shows within POPULAR_TTL_S).
POPULAR_TTL_S = 5.0
_popular: dict[tuple[Database, str, str, int], tuple[float, list[tuple[str, int]]]] = {}


async def record(*, db: Database, region: str, query: str) -> None:
    await record_many(db=db, counts={(region, query): 1})


async def record_many(*, db: Database, counts: dict[tuple[str, str], int]) -> None:
    """Add ``counts`` (region and query → searches) to the log in one transaction and one
    statement: an upsert sent as one batch (an UPDATE and maybe an INSERT per query cost a
    statement per search at 50 searches a second)."""
    batch: dict[tuple[str, str], int] = {}
    for (region, query), n in counts.items():
        if folded := " ".join(words(query))[:100]:
            batch[(region, folded)] = batch.get((region, folded), 0) + n
    if not batch:
        return
    now = utcnow()
    async with db.session() as session:
        upsert = insert_for(session, SearchQueryCount)
        await session.execute(
            upsert.on_conflict_do_update(index_elements=["region", "query"],
                                         set_={"count": SearchQueryCount.count + upsert.excluded["count"],
                                               "last_at": upsert.excluded.last_at}),
            [{"region": region, "query": query, "count": n, "last_at": now}
             for (region, query), n in sorted(batch.items())])


def _forget(db: Database) -> None:
    for key in [k for k in _popular if k[0] is db]:
        del _popular[key]


async def popular(*, db: Database, region: str, prefix: str, limit: int) -> list[tuple[str, int]]:
    prefix = " ".join(words(prefix)) + (" " if prefix.endswith(" ") else "")
    if not prefix.strip():
        return []
    key = (db, region, prefix, limit)
    kept = _popular.get(key)
    if kept is not None and kept[0] > time.monotonic():
        return kept[1]
    found = await _popular_now(db=db, region=region, prefix=prefix, limit=limit)
    if len(_popular) >= 4096:
        _popular.clear()
    _popular[key] = (time.monotonic() + POPULAR_TTL_S, found)
    return found


async def _popular_now(*, db: Database, region: str, prefix: str, limit: int) -> list[tuple[str, int]]:
    # A prefix is a range of an index: the primary key (region, query) on SQLite, whose LIKE
    # ignores case and so no index; a text_pattern_ops index on PostgreSQL (search_0004).
    if db.is_sqlite:
        starts = sa.and_(SearchQueryCount.query >= prefix,
                         SearchQueryCount.query < prefix[:-1] + chr(ord(prefix[-1]) + 1))
    else:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        starts = SearchQueryCount.query.like(escaped + "%", escape="\\")
    async with db.read_session() as session:
        rows = await read_rows(session, sa.select(SearchQueryCount.query, SearchQueryCount.count)
                               .where(SearchQueryCount.region == region, starts, SearchQueryCount.count >= MIN_COUNT)
                               .order_by(SearchQueryCount.count.desc(), SearchQueryCount.query).limit(limit * 3))
        blocked = {r[0] for r in await read_rows(session, sa.select(SearchQueryBlock.word))}
    return [(q, n) for q, n in rows if not blocked.intersection(q.split())][:limit]


async def block(*, db: Database, word: str) -> None:
    """Never suggest a query containing ``word`` (folded); idempotent."""
    word = fold(word.strip())
    async with db.session() as session:
        if await session.get(SearchQueryBlock, word) is None:
            session.add(SearchQueryBlock(word=word, created_at=utcnow()))
    _forget(db)
