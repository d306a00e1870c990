"""Helpers of the social and notification tests: ready clips, the stream role, events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from sqlalchemy import event

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from clipfeed.core.errors import NotFound, Unavailable
from clipfeed.core.events import Event
from tests.helpers import Account


async def ready_clip(client: httpx.AsyncClient, services: Any, owner: Account, caption: str = "a clip",
                     visibility: str = "public", media: dict[str, str] | None = None) -> str:
    """A clip the media pipeline has finished (status ready)."""
    made = await client.post("/v1/clips", headers=owner.auth, json={"caption": caption, "visibility": visibility})
    assert made.status_code == 201, made.text
    clip_id = int(made.json()["id"])
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=clip_id, status=ClipStatus.ready,
                                   media=media)
    return str(clip_id)


@contextlib.asynccontextmanager
async def stream_role(*, services: Any) -> AsyncIterator[None]:
    """The ``stream`` worker role (counters, notification fan-out ...) in this process."""
    from clipfeed.workers import run_role

    stop = asyncio.Event()
    task = asyncio.create_task(run_role("stream", stop, services=services))
    try:
        yield
    finally:
        stop.set()
        await task


async def caught_up(*, services: Any) -> None:
    """Every stream processor, the notification fan-out included, has handled what exists."""
    from clipfeed.stream.catchup import PIPELINE, wait_for_catch_up

    # Account cleanup writes events of its own (like.removed ...): it goes first, and what it
    # staged is published (the second call flushes the outbox) before the rest is waited for.
    await wait_for_catch_up(services=services, groups=[("social-cleanup", "users")], timeout=60)
    groups = (*PIPELINE, ("notifications-fanout", "social"), ("notifications-fanout", "clips"),
              ("notifications-fanout", "users"))
    await wait_for_catch_up(services=services, groups=groups, timeout=60)


async def social_events(*types: str, services: Any) -> list[Event]:
    """Events on topic ``social`` (after publishing what is pending), oldest first per key."""
    await services.outbox.flush()
    found: list[Event] = []
    try:
        partitions = await services.log.partitions("social")
    except NotFound:  # nothing was ever published
        return found
    for partition in range(partitions):
        for attempt in range(5):  # a loaded machine can make one JetStream API call time out
            try:
                records = await services.log.read("social", partition, from_offset=0, limit=100_000)
                break
            except Unavailable:
                if attempt == 4:
                    raise
                await asyncio.sleep(2)
        for record in records:
            event = Event.decode(record.value)
            if not types or event.type in types:
                found.append(event)
    return found


@contextlib.contextmanager
def largest_statement(services: Any) -> Iterator[list[int]]:
    """The parameter counts of the statements run meanwhile (one at a time, not batches)."""
    counts: list[int] = []

    def seen(_conn: Any, _cursor: Any, _statement: str, parameters: Any, _context: Any, executemany: bool) -> None:
        if not executemany:
            counts.append(len(parameters or ()))

    engines = {id(e.sync_engine): e.sync_engine for e in [services.db.engine, *services.db._shard_engines]}
    for engine in engines.values():
        event.listen(engine, "before_cursor_execute", seen)
    try:
        yield counts
    finally:
        for engine in engines.values():
            event.remove(engine, "before_cursor_execute", seen)
