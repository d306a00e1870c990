"""Golden results of the stream processors for a fixed event sequence, on both stacks; the same
results with the events reversed, resent and redelivered."""

from __future__ import annotations

import time

import pytest

from clipfeed.stream import trending
from clipfeed.stream.counters import get_clip_counts, read_counts_from_db
from clipfeed.stream.features import get_clip_features, get_user_features
from tests.stream.pipeline import Scenario, golden, play, running_role

EXPECTED = {  # clip -> counters (see pipeline.golden for who did what)
    "A": {"impressions": 2, "plays": 4, "views": 3, "unique_viewers": 3, "completes": 1, "replays": 1, "skips": 1,
          "not_interested": 0, "watch_ms": 9200, "likes": 1, "comments": 1, "shares": 1, "bookmarks": 0},
    "B": {"impressions": 1, "plays": 2, "views": 2, "unique_viewers": 2, "completes": 1, "replays": 0, "skips": 1,
          "not_interested": 0, "watch_ms": 6500, "likes": 1, "comments": 0, "shares": 0, "bookmarks": 0},
    "C": {"impressions": 0, "plays": 31, "views": 2, "unique_viewers": 2, "completes": 0, "replays": 0, "skips": 0,
          "not_interested": 1, "watch_ms": 0, "likes": 0, "comments": 0, "shares": 0, "bookmarks": 0},
}


async def _check(scenario: Scenario, *, services) -> None:
    clips = scenario.clips
    now = time.time()
    counts = await get_clip_counts(services=services, clip_ids=list(clips.values()))
    for name, expected in EXPECTED.items():
        got = counts[clips[name]].as_dict()
        assert {k: got[k] for k in expected} == expected, name
    assert counts[clips["A"]].completion_rate == 0.25 and counts[clips["A"]].avg_watch_ms == 2300
    # The database agrees with the cache (it is what survives a cache loss).
    assert await read_counts_from_db(services=services, clip_ids=list(clips.values())) == counts

    # Trending: C would lead on raw activity (30 plays, 10 likes by mallory) but each viewer
    # adds each kind of weight once a day: A (16.5) > B (6) > C (5), decayed alike.
    ranked = await trending.top_clips(services=services, limit=10, now=now)
    assert [clip for clip, _ in ranked] == [clips["A"], clips["B"], clips["C"]]
    scores = dict(ranked)
    assert scores[clips["A"]] == pytest.approx(16.5, rel=0.02)
    assert scores[clips["B"]] == pytest.approx(6.0, rel=0.02)
    assert scores[clips["C"]] == pytest.approx(5.0, rel=0.02)
    regional = await trending.top_clips(services=services, region=services.settings.region, limit=10, now=now)
    assert regional == ranked
    assert await trending.top_clips(services=services, region="elsewhere", limit=10, now=now) == []
    tags = await trending.top_hashtags(services=services, limit=10, now=now)
    assert [tag for tag, _ in tags] == ["cats", "funny", "dogs"]
    assert dict(tags)["cats"] == pytest.approx(21.5, rel=0.02)

    # A viewer's interest profile: alice played, completed, replayed and shared A (#cats
    # #funny), liked B (#dogs) and followed dave; bob skipped A, finished B, liked A.
    accounts = scenario.accounts
    profiles = await get_user_features(services=services, viewers=[accounts["alice"].id, accounts["bob"].id],
                                       now=now)
    alice, bob = profiles[str(accounts["alice"].id)], profiles[str(accounts["bob"].id)]
    assert [t for t, _ in alice.top_hashtags] == ["cats", "funny", "dogs"]
    assert dict(alice.top_hashtags)["cats"] == pytest.approx(5.4, rel=0.01)
    assert dict(alice.top_hashtags)["dogs"] == pytest.approx(2.0, rel=0.01)
    assert alice.top_creators[0][0] == accounts["dave"].id
    assert dict(alice.top_creators)[accounts["dave"].id] == pytest.approx(5.4 + 2 + 3, rel=0.01)
    assert alice.skip_rate == 0 and alice.completion_rate == pytest.approx(0.5, rel=1e-3)
    assert alice.recent_clips == [clips["A"]]
    assert [t for t, _ in bob.top_hashtags] == ["cats", "funny", "dogs"]
    assert dict(bob.top_hashtags)["cats"] == pytest.approx(1.7, rel=0.01)
    assert bob.skip_rate == pytest.approx(0.5, rel=1e-3)
    assert bob.recent_clips == [clips["B"], clips["A"]]
    anonymous = await get_user_features(services=services, viewers=["anon:device-0001"], now=now)
    assert anonymous["anon:device-0001"].plays == pytest.approx(1.0, rel=0.01)

    # Clip live features over the last hour.
    live = (await get_clip_features(services=services, clip_ids=[clips["A"]], now=now))[clips["A"]]
    assert (live.impressions, live.plays, live.completes, live.skips, live.likes, live.shares, live.comments) == (
        2, 4, 1, 1, 1, 1, 1)
    assert live.play_rate == 2.0 and live.completion_rate == 0.25 and live.avg_watch_ms == 2300
    assert live.trending_score == pytest.approx(scores[clips["A"]], rel=1e-6)


async def test_golden_sequence_gives_exact_counters_trending_and_features(client, services) -> None:
    scenario = await golden(client, services)
    async with running_role(services=services):
        await play(client, services, scenario)
    await _check(scenario, services=services)


async def test_reversed_resent_and_redelivered_events_change_nothing(client, services) -> None:
    scenario = await golden(client, services)
    async with running_role(services=services):
        await play(client, services, scenario, shuffled=True, twice=True)
    await _check(scenario, services=services)
