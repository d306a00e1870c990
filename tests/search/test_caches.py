"""What the serving process keeps between requests (text rankings and suggestions per index
version, the version itself for ``VERSION_TTL_S``, engagement scores, query vectors) never
shows a viewer what they may not see, and a change of the index shows at once in this process
and soon in another."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import sqlalchemy as sa

from clipfeed.clips.models import Clip
from clipfeed.infra.db import Database, utcnow
from clipfeed.infra.search import open_search_index
from clipfeed.infra.search.store import VERSION_TTL_S
from clipfeed.infra.search.tables import SearchClipVector
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


async def test_the_vectors_are_counted_once_a_second_and_a_write_shows_at_once(services, monkeypatch) -> None:
    """Semantic search knows its vectors changed from their count and newest write: read at
    most once per ``VERSION_TTL_S`` (not by every search, a scan of the table), except right
    after this process wrote some, and after the TTL for another process's writes."""
    from clipfeed.search import semantic

    owner = await add_creator("meaning_mia", services=services)
    kitten = await add_clip(owner, "kitten jumps on the table and falls", services=services)
    car = await add_clip(owner, "changing the oil of an old diesel car", services=services)
    await semantic.embed_clips(db=services.db, clip_ids=[kitten.id])
    counted: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "search_clip_vectors" in statement and "count(" in statement.lower():
            counted.append(statement)

    clock = [time.monotonic()]
    monkeypatch.setattr(semantic, "time", type("Clock", (), {"monotonic": staticmethod(lambda: clock[0])}))
    sa.event.listen(services.db.engine.sync_engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            assert await semantic.neighbours(db=services.db, text="a cat falls off a table") == [kitten.id]
        assert len(counted) == 1
        # Another process embeds the car clip: seen once the TTL has passed.
        async with services.db.session() as session:
            row = await session.get(SearchClipVector, kitten.id)
            session.add(SearchClipVector(clip_id=car.id, vector=row.vector, model=row.model, updated_at=utcnow()))
        clock[0] += semantic.VERSION_TTL_S + 0.01
        assert set(await semantic.neighbours(db=services.db, text="a cat falls off a table")) == {kitten.id, car.id}
        # This process clears them: no neighbour at once.
        await semantic.clear(db=services.db)
        assert await semantic.neighbours(db=services.db, text="a cat falls off a table") == []
    finally:
        sa.event.remove(services.db.engine.sync_engine, "before_cursor_execute", count)


async def test_new_vectors_join_the_loaded_index_and_a_stale_one_is_rebuilt(services, monkeypatch) -> None:
    """A clip's vector written after the index was loaded is added to it (no rebuild: at
    100,000 vectors a rebuild per new clip cost a minute of CPU per process); once more than
    ``STALE_SHARE`` of the index is rows since deleted, it is rebuilt. Above
    ``APPROXIMATE_ABOVE`` vectors the index is approximate (inverted lists) and still finds a
    clip by its own vector."""
    from clipfeed.search import semantic

    monkeypatch.setattr(semantic, "APPROXIMATE_ABOVE", 30)
    owner = await add_creator("meaning_max", services=services)
    topics = ["kittens", "diesel engines", "sourdough bread", "surfing waves", "chess openings", "violin practice",
              "mountain hiking", "street tacos", "origami cranes", "solar panels"]
    clips = [await add_clip(owner, f"{topic} day {n}", services=services, index=False)
             for n in range(4) for topic in topics]
    await semantic.embed_clips(db=services.db, clip_ids=[c.id for c in clips[:36]])
    first = await semantic._current(services.db)
    assert len(first.ids) == 36 and first.index.__class__.__name__ == "IndexIVFFlat"
    async with services.db.session() as session:
        vector = np.frombuffer((await session.get(SearchClipVector, clips[3].id)).vector, dtype="<f4")
    assert (await semantic.neighbours_of(db=services.db, vector=vector))[0] == clips[3].id

    await semantic.embed_clips(db=services.db, clip_ids=[c.id for c in clips[36:]])
    grown = await semantic._current(services.db)
    assert grown is first and len(grown.ids) == 40  # added, not rebuilt
    assert clips[39].id in await semantic.neighbours(db=services.db, text=f"{topics[9]} day 3")

    async with services.db.session() as session:  # five clips' vectors deleted: an eighth of the index
        await session.execute(sa.delete(SearchClipVector)
                              .where(SearchClipVector.clip_id.in_([c.id for c in clips[:5]])))
    semantic._changed(services.db)
    rebuilt = await semantic._current(services.db)
    assert rebuilt is not first and sorted(rebuilt.ids) == sorted(c.id for c in clips[5:])
