"""Counters missing from the cache are read from the database once however many requests
miss them at the same moment (both stacks)."""

from __future__ import annotations

import asyncio

from sqlalchemy import event

from clipfeed.stream.counters import counts_key, get_clip_counts


async def test_twenty_concurrent_misses_on_the_same_clips_counters_cost_the_reads_of_one(services) -> None:
    clip_ids = [11, 12, 13]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(services.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await services.cache.delete(*(counts_key(c) for c in clip_ids))
        alone = await get_clip_counts(services=services, clip_ids=clip_ids)
        one_read = len(statements)
        assert one_read > 0

        await services.cache.delete(*(counts_key(c) for c in clip_ids))  # cold again
        statements.clear()
        together = await asyncio.gather(*(get_clip_counts(services=services, clip_ids=clip_ids) for _ in range(20)))
        assert len(statements) == one_read
        assert all(found == alone for found in together)
    finally:
        event.remove(services.db.engine.sync_engine, "before_cursor_execute", count)
