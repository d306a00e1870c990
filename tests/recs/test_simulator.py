"""The user simulator drives a real ``clipfeed serve`` over HTTP on every arm (small world)."""

from __future__ import annotations

from clipfeed.recs.sim.lineup import ARMS
from clipfeed.recs.sim.report import METRICS
from clipfeed.recs.sim.run import run_comparison
from clipfeed.recs.sim.world import WorldConfig


async def test_every_arm_serves_pages_without_repeats_and_the_server_accepts_every_event() -> None:
    config = WorldConfig(viewers=3, sessions=2, catalogue=40, arrivals=6, creators=4, max_clips=15)
    report = await run_comparison(list(ARMS.values()), config=config, seeds=[3])
    assert set(report.tallies) == set(ARMS)
    for arm, (tally,) in report.tallies.items():
        assert tally.impressions > 0 and tally.pages > 0, arm
        assert "error" not in tally.served_by, (arm, tally.served_by)
        assert tally.repeats == 0, arm
        assert tally.refused == 0, arm  # every page, event, like and follow was accepted
        assert len(tally.session_watch_s) == config.viewers * config.sessions, arm
    summary = report.summary()
    assert all(set(row) == set(METRICS) for row in summary.values())
    assert "foryou" in report.table()
