"""The user simulator against the real feed service (scratch embedded stacks)."""

from __future__ import annotations

import pytest

from clipfeed.recs.simulator import run_comparison


@pytest.mark.slow
async def test_simulated_viewers_watch_longer_on_our_feed_than_on_a_popularity_feed() -> None:
    report = await run_comparison(users=16, sessions=4, seed=3, catalogue=600, arrivals=30)
    ours, popular = report.rows["clipfeed"], report.rows["popularity"]
    assert ours["watch s/session"] > 1.2 * popular["watch s/session"], report.table()
    assert ours["new clips shown"] > 0.2  # the fresh pool gets new clips their first impressions
    assert ours["topics/page"] >= 3  # diversity: never a page of one topic
    assert "new taste, session 1 after shift" in ours
