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


def _popular_statement(starts: sa.ColumnElement[bool]) -> sa.CompoundSelect:
    """The region's most searched queries whose text ``starts`` (``limit`` of them), and every
    blocked word after them, as (kind, text, count) rows: one statement, not two (each costs a
    round of hand-offs to SQLite's thread, or a round trip)."""
    top = (sa.select(sa.literal("q").label("kind"), SearchQueryCount.query.label("text"),
                     SearchQueryCount.count.label("n"))
           .where(SearchQueryCount.region == sa.bindparam("region"), starts, SearchQueryCount.count >= MIN_COUNT)
           .order_by(SearchQueryCount.count.desc(), SearchQueryCount.query)
           .limit(sa.bindparam("limit", type_=sa.Integer)).subquery())
    both = sa.union_all(sa.select(top.c.kind, top.c.text, top.c.n),
                        sa.select(sa.literal("b"), SearchQueryBlock.word, sa.cast(sa.null(), sa.Integer)))
    return both.order_by(both.selected_columns.kind.desc(), both.selected_columns.n.desc(), both.selected_columns.text)


# Built once, one per engine (building a statement and its cache key cost more than running
# it): a prefix is a range of an index, the primary key (region, query) on SQLite, whose LIKE
# ignores case and so no index; a text_pattern_ops index on PostgreSQL (search_0004).
_POPULAR_SQLITE = _popular_statement(sa.and_(SearchQueryCount.query >= sa.bindparam("low"),
                                             SearchQueryCount.query < sa.bindparam("high")))
_POPULAR_LIKE = _popular_statement(SearchQueryCount.query.like(sa.bindparam("pattern"), escape="\\"))


async def _popular_now(*, db: Database, region: str, prefix: str, limit: int) -> list[tuple[str, int]]:
    params: dict[str, object] = {"region": region, "limit": limit * 3}
    if db.is_sqlite:
        statement = _POPULAR_SQLITE
        params.update(low=prefix, high=prefix[:-1] + chr(ord(prefix[-1]) + 1))
    else:
        statement = _POPULAR_LIKE
        params["pattern"] = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with db.read_session() as session:
        rows = await read_rows(session, statement, params)
    blocked = {text for kind, text, _ in rows if kind == "b"}
    return [(text, n) for kind, text, n in rows if kind == "q" and not blocked.intersection(text.split())][:limit]


async def block(*, db: Database, word: str) -> None:
    """Never suggest a query containing ``word`` (folded); idempotent."""
    word = fold(word.strip())
    async with db.session() as session:
        if await session.get(SearchQueryBlock, word) is None:
            session.add(SearchQueryBlock(word=word, created_at=utcnow()))
    _forget(db)
