"""Waiting for the stream to catch up: tests, tools, and the social feature's "count after
catch-up" checks use this instead of sleeping."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from clipfeed.core.contract import Topic
from clipfeed.core.errors import NotFound

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

# In pipeline order: the relay feeds the activity topics, so it is waited for first.
PIPELINE: tuple[tuple[str, str], ...] = (
    ("stream-relay", Topic.SOCIAL), ("stream-catalog", Topic.CLIPS), ("stream-clips", Topic.ACTIVITY_CLIPS),
    ("stream-users", Topic.ACTIVITY_USERS))


async def lag(group: str, topic: str, ends: dict[int, int] | None = None, *, services: Services) -> int | None:
    """Partitions of ``topic`` where ``group`` has not acknowledged every record below ``ends``
    (default: the end now); None when the group does not exist yet."""
    try:
        ends = ends if ends is not None else await services.log.end_offsets(topic)
        committed = await services.log.committed(topic, group)
    except NotFound:
        return None
    behind = 0
    for partition, end in ends.items():
        start = committed.get(partition, 0)
        if start >= end:
            continue
        # Offsets need not be contiguous (JetStream), so look for an actual record in between.
        pending = await services.log.read(topic, partition, from_offset=start, limit=1)
        if pending and pending[0].offset < end:
            behind += 1
    return behind


async def wait_for_catch_up(*, services: Services, groups: Sequence[tuple[str, str]] = PIPELINE,
                            timeout: float = 30.0, flush_outbox: bool = True) -> None:
    """Return once every ``(group, topic)`` has handled what was in its topic when its turn
    came (after publishing pending outbox rows). Raises ``TimeoutError`` naming the laggard,
    e.g. when no ``clipfeed worker stream`` is running.

    Events staged in other outboxes than ``services.outbox`` (the social feature's relays of
    shard databases) are waited for once their relay has published them."""
    deadline = time.monotonic() + timeout
    if flush_outbox:
        await services.outbox.flush()
    for group, topic in groups:
        try:
            ends = await services.log.end_offsets(topic)
        except NotFound:
            continue  # nothing was ever written there
        await _wait_group(group, topic, ends, deadline, timeout, services=services)


async def _wait_group(group: str, topic: str, ends: dict[int, int], deadline: float, timeout: float,
                      *, services: Services) -> None:
    waiting = set(ends)
    pending_at: dict[int, int] = {}  # partition -> offset of a record known to be unhandled
    while True:
        try:
            committed = await services.log.committed(topic, group)
        except NotFound:
            committed = None
        if committed is not None:
            for partition in sorted(waiting):
                start = committed.get(partition, 0)
                if start >= ends[partition]:
                    waiting.discard(partition)
                    continue
                if start <= pending_at.get(partition, -1):
                    continue  # still below a record we know is unhandled: no need to look
                # Offsets need not be contiguous (JetStream): look for an actual record.
                found = await services.log.read(topic, partition, from_offset=start, limit=1)
                if found and found[0].offset < ends[partition]:
                    pending_at[partition] = found[0].offset
                else:
                    waiting.discard(partition)
        if not waiting:
            return
        if time.monotonic() > deadline:
            state = "has not started" if committed is None else f"is behind on {len(waiting)} partition(s)"
            raise TimeoutError(f"group {group} on {topic} {state} after {timeout:.0f} s")
        await asyncio.sleep(0.05)
