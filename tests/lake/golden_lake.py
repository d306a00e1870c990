"""The golden scenario, through the stream role and compaction into the lake."""

from __future__ import annotations

import asyncio
from typing import Any

from clipfeed.lake import compaction
from tests.stream.pipeline import Scenario, golden, play, running_role


async def _join(*, services: Any) -> Any:
    """Join the compaction group as the batch role's loop does: again after a log time-out
    (a loaded machine can stall a JetStream request for seconds)."""
    from clipfeed.core.errors import Unavailable

    for attempt in range(5):
        try:
            return await compaction.open_consumer(services=services)
        except Unavailable:
            if attempt == 4:
                raise
            await asyncio.sleep(2.0)
    raise AssertionError("unreachable")


async def golden_lake(client: Any, services: Any) -> Scenario:
    scenario = await golden(client, services)
    async with running_role(services=services):  # the relay puts social events on activity.users
        await play(client, services, scenario)
    consumer = await _join(services=services)
    try:
        while await compaction.compact_once(consumer, max_wait=1.0, services=services):
            pass
    finally:
        await consumer.close()
    return scenario
