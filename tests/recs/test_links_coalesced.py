"""A viewer's links (follows, blocks, mutes, interests) missing from the cache are read from
the database once however many requests miss at the same moment (both stacks)."""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import event

from clipfeed.recs.viewers import FeedViewer, links_key, viewer_links
from tests.helpers import signup

LINK_TABLES = {"mute_filters", "hashtag_follows", "recs_dismissals", "recs_interests", "follows", "blocks"}


async def test_twenty_concurrent_misses_on_a_viewers_links_cost_the_queries_of_one(client, services) -> None:
    account = await signup(client, "coalesced")
    viewer = FeedViewer.signed_in(account.id, region="local")
    statements: list[str] = []

    def count(*args: object) -> None:
        statement = str(args[2])
        # only the links' own tables: the stack's background work (the outbox, the workers)
        # shares the engine and may run a statement at any moment
        if LINK_TABLES.intersection(re.findall(r"FROM (\w+)", statement)):
            statements.append(statement)

    event.listen(services.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        await viewer_links(viewer, services=services)  # warms what other in-process caches keep
        await services.cache.delete(links_key(viewer.key))
        statements.clear()
        alone = await viewer_links(viewer, services=services)
        one_read = len(statements)
        assert one_read > 0

        await services.cache.delete(links_key(viewer.key))  # cold again
        statements.clear()
        together = await asyncio.gather(*(viewer_links(viewer, services=services) for _ in range(20)))
        assert len(statements) == one_read
        assert all(links == alone for links in together)
    finally:
        event.remove(services.db.engine.sync_engine, "before_cursor_execute", count)
