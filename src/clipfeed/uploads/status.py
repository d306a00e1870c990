"""Processing status of a clip for its creator: ``GET /v1/clips/{id}/status`` and its SSE stream.

The stream sends the current state at once, then every change (progress reports on
``media.progress``, status changes on ``clips``), a comment line every ``HEARTBEAT_S`` so proxies
keep the connection, and ends after a terminal status (ready, rejected, failed, deleted) or
``review`` (a moderator decides; that can take long, and a client can reconnect later).
EventSource cannot send headers, so the stream also takes ``?access_token=``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip
from clipfeed.core.contract import Topic
from clipfeed.core.errors import NotFound
from clipfeed.core.events import Event
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.http.params import ClipId
from clipfeed.runtime.services import Services
from clipfeed.uploads import progress
from clipfeed.uploads.models import ClipStatusPublic

router = APIRouter(tags=["uploads"])
HEARTBEAT_S = 15.0


async def _own_clip(clip_id: int, user_id: int, *, services: Services) -> Clip:
    clip = await clips_service.get(db=services.db, clip_id=clip_id, viewer_id=user_id)
    if clip.owner_id != user_id:
        raise NotFound(f"no clip {clip_id}")  # others' clips have no visible processing status
    return clip


@router.get("/clips/{clip_id}/status", response_model=ClipStatusPublic)
async def clip_status(clip_id: ClipId, user: CurrentUser, services: Deps) -> ClipStatusPublic:
    return await progress.current(await _own_clip(clip_id, user.id, services=services), services=services)


@router.get("/clips/{clip_id}/status/stream", response_class=StreamingResponse)
async def clip_status_stream(clip_id: ClipId, user: CurrentUser, services: Deps) -> StreamingResponse:
    """Server-sent events: ``event: status`` with a ClipStatusPublic as data."""
    await _own_clip(clip_id, user.id, services=services)
    return StreamingResponse(_events(clip_id, user.id, services=services), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _sse(state: ClipStatusPublic) -> bytes:
    return f"event: status\ndata: {state.model_dump_json()}\n\n".encode()


async def _events(clip_id: int, user_id: int, *, services: Services) -> AsyncIterator[bytes]:
    key = str(clip_id)
    changes: asyncio.Queue[tuple[str, Event]] = asyncio.Queue()

    async def forward(topic: str, queue: asyncio.Queue[Event]) -> None:
        while True:
            changes.put_nowait((topic, await queue.get()))

    async with contextlib.AsyncExitStack() as stack:
        # Listen before reading the state, so nothing that happens in between is missed.
        progress_queue = await stack.enter_async_context(services.live.listen(Topic.MEDIA_PROGRESS, key))
        clip_queue = await stack.enter_async_context(services.live.listen(Topic.CLIPS, key))
        forwarders = [asyncio.create_task(forward(Topic.MEDIA_PROGRESS, progress_queue)),
                      asyncio.create_task(forward(Topic.CLIPS, clip_queue))]
        stack.callback(lambda: [task.cancel() for task in forwarders])
        state = await _state(clip_id, user_id, services=services)
        yield b"retry: 3000\n\n" + _sse(state)
        while state.status not in progress.SETTLED:
            try:
                topic, event = await asyncio.wait_for(changes.get(), HEARTBEAT_S)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            if topic == Topic.MEDIA_PROGRESS:
                state = progress.apply_progress(state, event)
            else:
                state = await _state(clip_id, user_id, services=services)
            yield _sse(state)


async def _state(clip_id: int, user_id: int, *, services: Services) -> ClipStatusPublic:
    async with services.db.session() as session:
        clip = await session.get(Clip, clip_id)
    if clip is None or clip.owner_id != user_id:
        raise NotFound(f"no clip {clip_id}")
    return await progress.current(clip, services=services)
