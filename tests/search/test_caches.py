"""What the serving process keeps between requests (text rankings and suggestions per index
version, the version itself for ``VERSION_TTL_S``, engagement scores, query vectors) never
shows a viewer what they may not see, and a change of the index shows at once in this process
and soon in another."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from clipfeed.clips.models import Clip
from clipfeed.infra.db import Database
from clipfeed.infra.search import open_search_index
from clipfeed.infra.search.store import VERSION_TTL_S
from clipfeed.search.indexing import refresh_clips
from tests.helpers import signup, wait_for
from tests.search.support import add_clip, add_creator, clip_ids
from tests.search.test_freshness import FRESHNESS_S, indexer_running


async def _found(client: Any, q: str, headers: dict[str, str] | None = None) -> set[int]:
    response = await client.get("/v1/search", params={"q": q, "limit": "50"}, headers=headers or {})
    assert response.status_code == 200, response.text
    return set(clip_ids(response.json()))


async def _suggested(client: Any, q: str) -> list[str]:
    response = await client.get("/v1/search/suggest", params={"q": q})
    assert response.status_code == 200, response.text
    return [item["text"] for item in response.json()["items"]]


async def test_clips_hidden_after_their_ranking_was_kept_never_come_back(client, services) -> None:
    """The ranking of "tidal pool" is kept after the first search; what happens to the rows
    afterwards (the index is not told) still decides, per viewer, on the very next search."""
    alice = await signup(client, "alice_tides")
    bob = await signup(client, "bob_tides")
    owner = await add_creator("rockpool_rita", services=services)
    gone_owner = await add_creator("rockpool_gus", services=services)
    kept = await add_clip(owner, "tidal pool crabs at low water", services=services)
    deleted = await add_clip(owner, "tidal pool anemones", services=services)
    muted = await add_clip(owner, "tidal pool starfish spotted", services=services)
    by_suspended = await add_clip(gone_owner, "tidal pool shrimp", services=services)
    everything = {kept.id, deleted.id, muted.id, by_suspended.id}
    assert await _found(client, "tidal pool", alice.auth) == everything
    assert await _found(client, "tidal pool", bob.auth) == everything

    async with services.db.session() as session:
        await session.execute(sa.update(Clip).where(Clip.id == deleted.id).values(status="deleted"))
        await session.execute(sa.text("UPDATE users SET suspended_at = CURRENT_TIMESTAMP WHERE id = :id"),
                              {"id": gone_owner.id})
    muting = await client.post("/v1/me/filters", headers=alice.auth, json={"kind": "word", "value": "starfish"})
    assert muting.status_code in (200, 201), muting.text
    assert await _found(client, "tidal pool", alice.auth) == {kept.id}
    # Bob's page is his own: Alice's mute is not his, and the rows' changes hold for him too.
    assert await _found(client, "tidal pool", bob.auth) == {kept.id, muted.id}
    assert (await client.put(f"/v1/users/{owner.id}/block", headers=bob.auth)).status_code == 200
    assert await _found(client, "tidal pool", bob.auth) == set()
    assert await _found(client, "tidal pool", alice.auth) == {kept.id}
    assert await _found(client, "tidal pool") == {kept.id, muted.id}


async def test_a_rename_changes_the_suggestions(client, services) -> None:
    """Completions are kept per index version: the rename's re-index makes them stale."""
    owner = await signup(client, "harbour_sam")
    await add_clip(owner.id, "boats in the harbour", services=services)
    async with indexer_running(services=services):
        await wait_for(lambda: _has(client, "harb", "@harbour_sam"), timeout=FRESHNESS_S)
        renamed = await client.patch("/v1/me", headers=owner.auth, json={"handle": "lighthouse_sam"})
        assert renamed.status_code == 200, renamed.text
        await wait_for(lambda: _has(client, "lightho", "@lighthouse_sam"), timeout=FRESHNESS_S)
    assert "@harbour_sam" not in await _suggested(client, "harb")


async def _has(client: Any, q: str, text: str) -> bool:
    return text in await _suggested(client, q)


async def test_a_write_by_another_process_shows_within_the_version_ttl(client, services) -> None:
    """This process reads the index's version at most every ``VERSION_TTL_S``: a clip indexed
    by another process (another ``Database``, so this process is not told) is found within that
    much, once its search ranking from before is stale."""
    creator = await add_creator("glacier_guide", services=services)
    clip = await add_clip(creator, "glacier hike in iceland", index=False, services=services)
    assert await _found(client, "glacier hike") == set()  # ranked (nothing) and kept
    other = Database(services.db.url)
    try:
        await refresh_clips(db=other, index=open_search_index(other), clip_ids=[clip.id])
        started = time.monotonic()
        await wait_for(lambda: _has_clip(client, "glacier hike", clip.id), timeout=FRESHNESS_S)
        assert time.monotonic() - started < VERSION_TTL_S + 2.0  # the TTL plus a loaded machine's slack
    finally:
        await other.close()


async def _has_clip(client: Any, q: str, clip_id: int) -> bool:
    return clip_id in await _found(client, q)
