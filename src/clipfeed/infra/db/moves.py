"""Moving a virtual shard to another shard database while the platform runs (``clipfeed shards
move VSHARD --to DB``), PostgreSQL only.

The steps, and what a process dying at each leaves:

1. **Pin** the map: the first move writes every virtual shard's database to ``shard_map`` in
   the main database, so appending a shard URL later cannot reshuffle the default ranges.
2. **Capture**: triggers on the source's sharded tables record each changed key in
   ``shard_changes`` from here on.
3. **Copy** the shard's rows (found by hashing each table's shard key) to the target, after
   clearing whatever an earlier, interrupted attempt left there. Writes go on at the source.
4. **Catch up**: re-copy the keys recorded as changed, a few passes, until a pass is small.
   (A death in 2-4 leaves the triggers and copied rows; running the move again starts over.)
5. **Freeze**: write the shard's fence at the source under its exclusive advisory lock. The
   lock waits for every transaction on the shard to end; from then on every transaction there
   finds the fence (``Database._enter``) and waits for the map to change. Writers wait here.
6. **Last catch-up and verify**: the changes made before the fence are copied, then the row
   count and an MD5 of the rows' text are compared per table. A mismatch lifts the fence and
   gives up (nothing was switched). A death in 5-6 leaves writers waiting (up to 30 s, then 503s)
   until the move is run again, which finds the fence and finishes from a full copy.
7. **Switch**: the target's fence (from an older move away) is lifted and ``shard_map`` sends
   the shard to the target, with the target's WAL position now (``arrived_lsn``: the target's
   read replicas serve the shard only once they have replayed that far); waiting writers read
   the map again and go there.
8. **Clean up**: the triggers go, the source's copies of the rows are deleted (the source's
   fence stays: a process still holding the old map is turned away there, never served stale
   rows; so is a read from a replica of the source that has replayed the fence). A death here
   leaves rows that the next move or ``shards move`` to the same target removes.

One move runs at a time (a session advisory lock on the main database).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from clipfeed.core.errors import ClipfeedError, Conflict
from clipfeed.infra.db.base import Base, utcnow
from clipfeed.infra.db.database import Database
from clipfeed.infra.db.replicas import PRIMARY_LSN
from clipfeed.infra.db.shardmap import LOCK_NAMESPACE, ShardAssignment, ShardChange, ShardFence

COPY_KEYS = 500  # keys per copy statement
CATCH_UP_PASSES = 8
SMALL_PASS = 200  # changed keys in a pass small enough to freeze after
TRIGGER = "clipfeed_move_{table}"


class MoveRefused(ClipfeedError):
    status, code, title = 409, "move-refused", "The shard move cannot run"


@dataclass
class Report:
    vshard: int
    source: int
    target: int
    rows: dict[str, int] = field(default_factory=dict)
    caught_up: list[int] = field(default_factory=list)  # keys re-copied per catch-up pass
    frozen_s: float = 0.0
    duration_s: float = 0.0
    resumed: bool = False
    cleaned_up: int = 0


def sharded_tables() -> dict[str, tuple[sa.Table, str]]:
    """Every sharded table and its shard key column, as the models declare (``__shard_key__``)."""
    found: dict[str, tuple[sa.Table, str]] = {}
    for mapper in Base.registry.mappers:
        key = getattr(mapper.class_, "__shard_key__", None)
        if key:
            table = mapper.local_table
            assert isinstance(table, sa.Table)
            found[table.name] = (table, key)
    if not found:  # the models were not imported: a move would copy nothing and "verify" it
        raise RuntimeError("no sharded tables are known: import clipfeed.schema before moving shards")
    return dict(sorted(found.items()))


async def move(db: Database, vshard: int, target: int, *, say: Callable[[str], None] = lambda _m: None) -> Report:
    if not db.fenced:
        raise MoveRefused("shard moves need PostgreSQL shard databases (CLIPFEED_DATABASE_SHARD_URLS)")
    if not 0 <= vshard < db.router.virtual_shards:
        raise MoveRefused(f"virtual shard {vshard} is outside 0..{db.router.virtual_shards - 1}")
    if not 0 <= target < db.shard_count:
        raise MoveRefused(f"shard database {target} is outside 0..{db.shard_count - 1}")
    started = time.monotonic()
    async with db.engine.connect() as guard:
        if not await guard.scalar(sa.text("SELECT pg_try_advisory_lock(:ns, -1)"), {"ns": LOCK_NAMESPACE}):
            raise Conflict("another shard move is running")
        await guard.commit()  # the lock is the session's; no transaction stays open meanwhile
        try:
            await db.load_shard_map()  # pins the map on its first read
            source = db.router.database_of_shard(vshard)
            report = Report(vshard, source, target)
            if source == target:
                report.cleaned_up = await _clean_leftovers(db, vshard, keep=target)
                say(f"virtual shard {vshard} is on database {target}; {report.cleaned_up} leftover rows removed")
            else:
                await _move(db, report, say)
            report.duration_s = time.monotonic() - started
            return report
        finally:
            await guard.execute(sa.text("SELECT pg_advisory_unlock(:ns, -1)"), {"ns": LOCK_NAMESPACE})
            await guard.commit()


async def _move(db: Database, report: Report, say: Callable[[str], None]) -> None:
    src, dst = db.shard_engine(report.source), db.shard_engine(report.target)
    v, router = report.vshard, db.router
    async with src.connect() as conn:
        report.resumed = bool(await conn.scalar(sa.select(ShardFence.vshard).where(ShardFence.vshard == v)))
    await _capture(src, on=True)
    async with src.connect() as conn:
        last = int(await conn.scalar(sa.select(sa.func.coalesce(sa.func.max(ShardChange.id), 0))) or 0)
    say(f"copying virtual shard {v} from database {report.source} to {report.target}")
    await _clear(dst, db, v)
    keys = await _keys(src, db, v)
    report.rows = await _copy(src, dst, keys)
    frozen_at = time.monotonic()
    if not report.resumed:
        for _ in range(CATCH_UP_PASSES):
            last, changed = await _changes(src, db, v, last)
            await _copy(src, dst, changed, replace=True)
            report.caught_up.append(sum(len(k) for k in changed.values()))
            if report.caught_up[-1] < SMALL_PASS:
                break
        frozen_at = time.monotonic()
        await _fence(src, v)
        say(f"virtual shard {v} frozen at database {report.source}; final catch-up")
    try:
        last, changed = await _changes(src, db, v, last)
        await _copy(src, dst, changed, replace=True)
        report.caught_up.append(sum(len(k) for k in changed.values()))
        report.rows = await _verify(src, dst, db, v)
        async with dst.begin() as conn:
            await conn.execute(sa.delete(ShardFence).where(ShardFence.vshard == v))
        async with dst.connect() as conn:  # every row copied is before this: the target's replicas wait for it
            arrived = int(await conn.scalar(PRIMARY_LSN))
        async with db.session() as session:
            await session.execute(sa.update(ShardAssignment).where(ShardAssignment.vshard == v)
                                  .values(database=report.target, moved_at=utcnow(), arrived_lsn=arrived))
    except BaseException:
        if not report.resumed:  # give the shard back to its writers; nothing was switched
            async with src.begin() as conn:
                await conn.execute(sa.delete(ShardFence).where(ShardFence.vshard == v))
        raise
    report.frozen_s = time.monotonic() - frozen_at
    router.assign({v: report.target})
    say(f"virtual shard {v} now served by database {report.target} (frozen {report.frozen_s * 1000:.0f} ms)")
    await _capture(src, on=False)
    async with src.begin() as conn:
        await conn.execute(sa.delete(ShardChange).where(ShardChange.id <= last))
    report.cleaned_up = await _delete(src, await _keys(src, db, v))


async def _capture(engine: AsyncEngine, *, on: bool) -> None:
    async with engine.begin() as conn:
        for name, (_table, key) in sharded_tables().items():
            trigger = TRIGGER.format(table=name)
            await conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {trigger} ON {name}"))
            if on:
                await conn.execute(sa.text(
                    f"CREATE TRIGGER {trigger} AFTER INSERT OR UPDATE OR DELETE ON {name} "
                    f"FOR EACH ROW EXECUTE FUNCTION clipfeed_shard_change('{key}')"))


async def _keys(engine: AsyncEngine, db: Database, v: int) -> dict[str, list[int]]:
    """Per sharded table, the shard keys of its rows that hash to virtual shard ``v``."""
    found: dict[str, list[int]] = {}
    async with engine.connect() as conn:
        for name, (table, key) in sharded_tables().items():
            keys = (await conn.execute(sa.select(table.c[key]).distinct())).scalars()
            found[name] = sorted(int(k) for k in keys if db.router.shard_of(int(k)) == v)
    return found


async def _changes(engine: AsyncEngine, db: Database, v: int, after: int) -> tuple[int, dict[str, list[int]]]:
    changed: dict[str, set[int]] = defaultdict(set)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(ShardChange.id, ShardChange.tbl, ShardChange.key)
                                   .where(ShardChange.id > after).order_by(ShardChange.id))).all()
    for change_id, name, key in rows:
        after = max(after, int(change_id))
        if db.router.shard_of(int(key)) == v:
            changed[name].add(int(key))
    return after, {name: sorted(keys) for name, keys in changed.items()}


async def _copy(src: AsyncEngine, dst: AsyncEngine, keys: dict[str, list[int]], *,
                replace: bool = False) -> dict[str, int]:
    """Copy the rows of ``keys`` (per table); ``replace``: the target's rows of those keys go
    first, so a key deleted at the source is deleted at the target too."""
    tables = sharded_tables()
    copied: dict[str, int] = {}
    for name, wanted in keys.items():
        table, key = tables[name]
        copied[name] = 0
        for start in range(0, len(wanted), COPY_KEYS):
            chunk = wanted[start:start + COPY_KEYS]
            async with src.connect() as conn:
                rows = [dict(r._mapping) for r in await conn.execute(sa.select(table).where(table.c[key].in_(chunk)))]
            async with dst.begin() as conn:
                if replace:
                    await conn.execute(sa.delete(table).where(table.c[key].in_(chunk)))
                if rows:
                    await conn.execute(sa.insert(table), rows)
            copied[name] += len(rows)
    return copied


async def _delete(engine: AsyncEngine, keys: dict[str, list[int]]) -> int:
    tables = sharded_tables()
    removed = 0
    for name, wanted in keys.items():
        table, key = tables[name]
        for start in range(0, len(wanted), COPY_KEYS):
            async with engine.begin() as conn:
                result = await conn.execute(sa.delete(table).where(table.c[key].in_(wanted[start:start + COPY_KEYS])))
                removed += int(result.rowcount or 0)
    return removed


async def _clear(engine: AsyncEngine, db: Database, v: int) -> None:
    await _delete(engine, await _keys(engine, db, v))


async def _fence(engine: AsyncEngine, v: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:ns, :v)"), {"ns": LOCK_NAMESPACE, "v": v})
        await conn.execute(sa.text(
            "INSERT INTO shard_fences (vshard, state, since) VALUES (:v, 'gone', now()) "
            "ON CONFLICT (vshard) DO UPDATE SET state = 'gone', since = now()"), {"v": v})


async def _fingerprint(conn: AsyncConnection, table: str, key: str, keys: list[int]) -> tuple[int, str]:
    row = (await conn.execute(sa.text(
        f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
        f"FROM {table} AS t WHERE {key} = ANY(:keys)"), {"keys": keys})).one()
    return int(row[0]), str(row[1])


async def _verify(src: AsyncEngine, dst: AsyncEngine, db: Database, v: int) -> dict[str, int]:
    """Row counts and checksums of the shard equal on both sides (the source is frozen)."""
    ours, theirs = await _keys(src, db, v), await _keys(dst, db, v)
    counts: dict[str, int] = {}
    async with src.connect() as a, dst.connect() as b:
        for name, (_table, key) in sharded_tables().items():
            if ours[name] != theirs[name]:
                raise MoveRefused(f"{name}: the copy holds {len(theirs[name])} keys, the source {len(ours[name])}")
            left, right = await _fingerprint(a, name, key, ours[name]), await _fingerprint(b, name, key, ours[name])
            if left != right:
                raise MoveRefused(f"{name}: {left[0]} rows at the source, {right[0]} in the copy, or their checksums "
                                  "differ; nothing was switched")
            counts[name] = left[0]
    return counts


async def _clean_leftovers(db: Database, v: int, *, keep: int) -> int:
    removed = 0
    for index in range(db.shard_count):
        if index != keep:
            engine = db.shard_engine(index)
            async with engine.connect() as conn:
                fenced = await conn.scalar(sa.select(ShardFence.vshard).where(ShardFence.vshard == v))
            if fenced is not None:  # only where the shard was moved away from: never live rows
                removed += await _delete(engine, await _keys(engine, db, v))
    return removed


async def status(db: Database) -> dict[str, Any]:
    """Where the virtual shards are, fences, capture triggers left behind, rows per database."""
    await db.load_shard_map()
    async with db.session() as session:
        pinned = bool(await session.scalar(sa.select(sa.func.count()).select_from(ShardAssignment)))
    databases = []
    for index in range(db.shard_count):
        engine = db.shard_engine(index)
        async with engine.connect() as conn:
            fences = list((await conn.scalars(sa.select(ShardFence.vshard).order_by(ShardFence.vshard))).all())
            rows = {name: int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)
                    for name, (table, _key) in sharded_tables().items()}
            triggers = int(await conn.scalar(sa.text(
                "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'clipfeed_move_%'")) or 0) if db.fenced else 0
        databases.append({"index": index, "url": engine.url.render_as_string(hide_password=True),
                          "vshards": len(db.router.shards_of(index)), "fenced": fences, "rows": rows,
                          "capture_triggers": triggers})
    return {"virtual_shards": db.router.virtual_shards, "pinned": pinned, "moves_possible": db.fenced,
            "databases": databases}
