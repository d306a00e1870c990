"""The search index follows the event log: clips appear within 5 s of becoming ready and vanish
within 5 s of deletion, rejection or going private; a renamed creator is found by the new handle."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from clipfeed.infra.search import open_search_index
from clipfeed.runtime.consumers import run_processor
from clipfeed.search.indexing import SearchIndexer
from tests.helpers import signup, wait_for

FRESHNESS_S = 5.0


@contextlib.asynccontextmanager
async def indexer_running(*, services: Any) -> AsyncIterator[None]:
    """The search indexer alone, as ``clipfeed worker stream`` runs it."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_processor(SearchIndexer(services), stop))
    try:
        yield
    finally:
        stop.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _found(client: Any, q: str, clip_id: int) -> bool:
    body = (await client.get("/v1/search", params={"q": q, "type": "clips"})).json()
    return clip_id in {int(hit["clip"]["id"]) for hit in body["clips"]}


async def _draft(client: Any, owner: Any, caption: str, visibility: str = "public") -> int:
    made = await client.post("/v1/clips", headers=owner.auth, json={"caption": caption, "visibility": visibility})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def _ready(clip_id: int, *, services: Any) -> None:
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=clip_id, status=ClipStatus.ready)


async def test_clips_enter_and_leave_search_through_the_event_log(client, services) -> None:
    owner = await signup(client, "aurora_chaser")
    async with indexer_running(services=services):
        deleted = await _draft(client, owner, "northern lights over the fjord")
        rejected = await _draft(client, owner, "northern lights timelapse")
        private = await _draft(client, owner, "northern lights from the cabin")
        held = await _draft(client, owner, "northern lights, review me")
        for clip_id in (deleted, rejected, private, held):
            assert not await _found(client, "northern lights", clip_id)  # a draft is never listed
            await _ready(clip_id, services=services)
        for clip_id in (deleted, rejected, private, held):
            await wait_for(lambda c=clip_id: _found(client, "northern lights", c), timeout=FRESHNESS_S)

        assert (await client.delete(f"/v1/clips/{deleted}", headers=owner.auth)).status_code == 204
        await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=rejected,
                                       status=ClipStatus.rejected, reason="moderation")
        await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=held,
                                       status=ClipStatus.review, reason="reported")
        changed = await client.patch(f"/v1/clips/{private}", headers=owner.auth, json={"visibility": "private"})
        assert changed.status_code == 200, changed.text

        async def all_gone() -> bool:
            return not any([await _found(client, "northern lights", c) for c in (deleted, rejected, private, held)])

        await wait_for(all_gone, timeout=FRESHNESS_S)
        index = open_search_index(services.db)

        async def unindexed() -> bool:  # the index itself drops them, not only the query-time check
            return await index.clips([deleted, rejected, private, held]) == []

        await wait_for(unindexed, timeout=FRESHNESS_S)


async def test_an_edit_and_a_rename_are_searchable_soon(client, services) -> None:
    owner = await signup(client, "old_handle_here")
    async with indexer_running(services=services):
        clip_id = await _draft(client, owner, "first caption")
        await _ready(clip_id, services=services)
        await wait_for(lambda: _found(client, "first caption", clip_id), timeout=FRESHNESS_S)
        edited = await client.patch(f"/v1/clips/{clip_id}", headers=owner.auth,
                                    json={"caption": "rewritten words about marmots"})
        assert edited.status_code == 200, edited.text
        await wait_for(lambda: _found(client, "marmots", clip_id), timeout=FRESHNESS_S)
        renamed = await client.patch("/v1/me", headers=owner.auth, json={"handle": "marmot_watcher"})
        assert renamed.status_code == 200, renamed.text
        await wait_for(lambda: _found(client, "@marmot_watcher", clip_id), timeout=FRESHNESS_S)
        assert not await _found(client, "@old_handle_here", clip_id)
