"""The golden scenario, through the stream role and compaction into the lake."""

from __future__ import annotations

from typing import Any

from clipfeed.lake import compaction
from tests.stream.pipeline import Scenario, golden, play, running_role


async def golden_lake(client: Any, services: Any) -> Scenario:
    scenario = await golden(client, services)
    async with running_role(services):  # the relay puts social events on activity.users
        await play(client, services, scenario)
    consumer = await compaction.open_consumer(services)
    try:
        while await compaction.compact_once(services, consumer, max_wait=1.0):
            pass
    finally:
        await consumer.close()
    return scenario
