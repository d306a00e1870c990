"""What the index hands the scorer about a candidate matches the clip's row, on each engine."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clipfeed.infra.search import ClipFilters, open_search_index
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
