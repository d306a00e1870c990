"""What the index hands the scorer about a candidate matches the clip's row, on each engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clipfeed.infra.search import ClipDocument, ClipFilters, open_search_index
from tests.search.support import add_clip, add_creator


async def test_a_candidate_carries_its_publication_time_to_the_microsecond(services) -> None:
    """The blend's freshness and the order ``_best_visible`` checks rows in both come from the
    seconds the database works out (``PUBLISHED_SECONDS``); the row's moment is the truth."""
    owner = await add_creator("tide_timer", services=services)
    clips = [await add_clip(owner, f"moonlit tide pools {n}", services=services,
                            age=timedelta(days=n * 3, seconds=n * 7, microseconds=123_457 * n)) for n in range(1, 4)]
    found = await open_search_index(services.db).clip_candidates(["tide"], filters=ClipFilters(), limit=10)
    assert {c.clip_id: c.published for c in found} == {
        c.id: pytest.approx(c.published_at.timestamp(), abs=1e-6) for c in clips}


async def test_a_word_in_more_clips_than_asked_for_brings_the_newest(services, monkeypatch) -> None:
    """Candidates for a word are its newest matches on each engine, whatever order the clips
    were indexed in (PostgreSQL's first matches found are in table order: the order of
    indexing, oldest first here) and on both sides of PostgreSQL's window of newest clips."""
    from clipfeed.infra.search import postgres

    monkeypatch.setattr(postgres, "NEWEST_WINDOW", 12)
    owner = await add_creator("otter_olga", services=services)
    ids = services.ids.next_ids(30)  # in time order
    extra = {1: "heron", 3: "heron", 2: "pebble", 5: "pebble", 20: "pebble", 25: "pebble"}
    now = datetime.now(UTC)
    index = open_search_index(services.db)
    await index.put_clips([ClipDocument(clip_id=i, owner_id=owner.id, caption=f"otter slide {extra.get(n, '')}",
                                        tags=(), handle=owner.handle, display_name="",
                                        published_at=now - timedelta(minutes=30 - n)) for n, i in enumerate(ids)])

    async def found(word: str, limit: int) -> list[int]:
        return [c.clip_id for c in await index.clip_candidates([word], filters=ClipFilters(), limit=limit)]

    assert await found("otter", 5) == ids[:-6:-1]  # common: the five newest
    assert await found("heron", 5) == [ids[3], ids[1]]  # only in clips older than the window
    assert await found("pebble", 3) == [ids[25], ids[20], ids[5]]  # across the window's edge
