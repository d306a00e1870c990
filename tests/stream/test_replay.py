"""``clipfeed events replay --rebuild`` recomputes the counters (and, with a shared cache,
trending and live features) from the log: the rebuilt state equals the live one."""

from __future__ import annotations

import subprocess
import time

import pytest

from clipfeed.stream import trending
from clipfeed.stream.counters import read_counts_from_db
from clipfeed.stream.features import get_clip_features
from tests.stream.pipeline import golden, play, running_role
from tests.stream.test_worker_kill import CLIPFEED, worker_env

pytestmark = pytest.mark.slow


async def _state(clip_ids: list[int], now: float, *, services) -> tuple:
    counts = await read_counts_from_db(services=services, clip_ids=clip_ids)
    if services.settings.cache_url.startswith("memory"):
        return (counts,)  # the replaying process has its own in-process cache
    top = await trending.top_clips(services=services, limit=10, now=now)
    tags = await trending.top_hashtags(services=services, limit=10, now=now)
    live = await get_clip_features(services=services, clip_ids=clip_ids, now=now)
    return counts, [(c, round(s, 6)) for c, s in top], [(t, round(s, 6)) for t, s in tags], live


async def test_replay_with_rebuild_gives_back_the_live_state(client, services) -> None:
    scenario = await golden(client, services)
    async with running_role(services=services):
        await play(client, services, scenario)
    clip_ids = list(scenario.clips.values())
    now = time.time()
    live = await _state(clip_ids, now, services=services)
    assert live[0][scenario.clips["A"]].plays == 4
    done = subprocess.run([CLIPFEED, "events", "replay", "--topic", "activity.clips", "--group", "stream-clips",
                           "--from", "earliest", "--rebuild", "--run"], env=worker_env(services.settings),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "replayed stream-clips on activity.clips from earliest (rebuilt)" in done.stderr
    assert await _state(clip_ids, now, services=services) == live


async def test_replay_refuses_unknown_groups_and_bad_starts(*, services) -> None:
    env = worker_env(services.settings)
    bad_group = subprocess.run([CLIPFEED, "events", "replay", "--topic", "activity.clips", "--group", "nobody",
                                "--rebuild"], env=env, capture_output=True, text=True, timeout=120)
    assert bad_group.returncode == 1 and "need a stream group" in bad_group.stderr
    bad_start = subprocess.run([CLIPFEED, "events", "replay", "--topic", "activity.clips", "--group", "stream-clips",
                                "--from", "yesterday"], env=env, capture_output=True, text=True, timeout=120)
    assert bad_start.returncode == 1 and "--from takes" in bad_start.stderr
