"""Social events through the outbox, poison records, late events, cache loss: on both stacks."""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest

from clipfeed.core.contract import ENGAGEMENT, ClipEngagement, Topic
from clipfeed.core.errors import NotFound
from clipfeed.infra.log import partition_for
from clipfeed.stream.catchup import wait_for_catch_up
from clipfeed.stream.counters import get_clip_counts
from clipfeed.stream.features import get_clip_features
from clipfeed.stream.windows import get_watermarks
from tests.helpers import signup
from tests.stream.pipeline import event, make_clip, running_role, send


async def _like(*, services, user_id: int, clip_id: int, creator_id: int, on: bool = True) -> None:
    async with services.db.session() as session:
        services.outbox.record(session, ENGAGEMENT["like", on], key=clip_id, actor_id=user_id,
                               payload=ClipEngagement(user_id=user_id, clip_id=clip_id, creator_id=creator_id))


async def test_two_hundred_concurrent_likes_count_exactly_two_hundred(client, services) -> None:
    dave = await signup(client, "dave")
    clip_id = await make_clip(client, services, dave, "likes #many")
    async with running_role(services=services):
        await asyncio.gather(*(_like(user_id=10_000 + i, clip_id=clip_id, creator_id=dave.id, services=services)
                               for i in range(200)))
        await asyncio.gather(*(_like(user_id=10_000 + i, clip_id=clip_id, creator_id=dave.id, on=False,
                                     services=services) for i in range(15)))
        await wait_for_catch_up(services=services, timeout=60)
    counts = (await get_clip_counts(services=services, clip_ids=[clip_id]))[clip_id]
    assert counts.likes == 185


async def test_a_poison_event_goes_to_the_dead_letter_topic_and_the_stream_goes_on(client, services) -> None:
    alice = await signup(client, "alice")
    poison = [b'{"id": 1, "type": "play_start", "payload": "garbage"}', b"\xff not json"]
    for value in poison:
        await services.log.append(Topic.ACTIVITY_CLIPS, value, key=b"42")
    async with running_role(services=services):
        await send(client, [event("play_start", 42, time.time())], alice.auth)
        await wait_for_catch_up(services=services, timeout=60)
    assert (await get_clip_counts(services=services, clip_ids=[42]))[42].plays == 1
    partitions = await services.log.partitions("dlq.stream-clips")
    dead = await services.log.read("dlq.stream-clips", partition_for(b"42", partitions, 0), from_offset=0)
    assert sorted(r.value for r in dead) == sorted(poison)
    assert all(r.headers["source_topic"] == Topic.ACTIVITY_CLIPS and r.headers["error"] for r in dead)


async def test_blocks_on_the_social_topic_pass_the_relay_without_a_dead_letter(client, services) -> None:
    erin, frank = await signup(client, "erin"), await signup(client, "frank")
    clip_id = await make_clip(client, services, erin, "blocked #relay")
    async with running_role(services=services):
        blocked = await client.put(f"/v1/users/{erin.id}/block", headers=frank.auth)
        assert blocked.status_code in (200, 204), blocked.text
        await _like(user_id=frank.id, clip_id=clip_id, creator_id=erin.id, services=services)
        await wait_for_catch_up(services=services, timeout=60)
    assert (await get_clip_counts(services=services, clip_ids=[clip_id]))[clip_id].likes == 1
    try:
        partitions = await services.log.partitions("dlq.stream-relay")
    except NotFound:
        return  # nothing was ever dead-lettered by the relay
    dead = [r for p in range(partitions) for r in await services.log.read("dlq.stream-relay", p, from_offset=0)]
    assert dead == []


async def test_events_later_than_the_watermark_are_counted_but_left_out_of_live_windows(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    now = time.time()
    lateness = services.settings.stream_allowed_lateness_s
    async with running_role(services=services):
        await send(client, [event("play_start", 7, now)], alice.auth)
        await wait_for_catch_up(services=services, timeout=60)
        # Out of order but within the allowed lateness: a normal event.
        await send(client, [event("impression", 7, now - lateness / 2)], alice.auth)
        # Later than the watermark: its window is final.
        await send(client, [event("play_start", 7, now - lateness - 120)], bob.auth)
        await wait_for_catch_up(services=services, timeout=60)
    counts = (await get_clip_counts(services=services, clip_ids=[7]))[7]
    assert (counts.plays, counts.views, counts.impressions) == (2, 2, 1)
    live = (await get_clip_features(services=services, clip_ids=[7], now=now))[7]
    assert (live.plays, live.impressions) == (1, 1)
    marks = await get_watermarks(services=services, group="stream-clips", topic=Topic.ACTIVITY_CLIPS, lateness=lateness)
    assert max(marks.values()) == pytest.approx(now - lateness, abs=0.01)


async def test_counters_survive_the_loss_of_the_cache(client, services) -> None:
    alice = await signup(client, "alice")
    async with running_role(services=services):
        await send(client, [event("play_start", 9, time.time()), event("share", 9, time.time())], alice.auth)
        await wait_for_catch_up(services=services, timeout=60)
    await services.cache.flush()
    counts = (await get_clip_counts(services=services, clip_ids=[9, 10]))
    assert (counts[9].plays, counts[9].views, counts[9].shares) == (1, 1, 1)
    assert counts[10].plays == 0  # nothing happened to clip 10
    assert orjson.loads(await services.cache.get("cnt:clip:9"))["shares"] == 1  # read back into the cache


async def test_upkeep_forgets_applied_ids_past_the_horizon_and_keeps_the_counts(client, services) -> None:
    import sqlalchemy as sa

    from clipfeed.stream import trending
    from clipfeed.stream.counters import prune_applied, read_counts_from_db
    from clipfeed.stream.models import StreamApplied

    alice = await signup(client, "alice")
    async with running_role(services=services):
        await send(client, [event("play_start", 77, time.time()), event("play_start", 78, time.time())], alice.auth)
        await wait_for_catch_up(services=services, timeout=60)
    assert await prune_applied(services=services, older_than_s=3600) == 0
    assert await prune_applied(services=services, older_than_s=-5) == 2
    async with services.db.session() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(StreamApplied)) == 0
    assert (await read_counts_from_db(services=services, clip_ids=[77]))[77].plays == 1
    assert await trending.trim(keep=1, services=services) == 2  # the weaker of two clips, in "all" and in the region


@pytest.mark.alone
async def test_features_reflect_an_event_within_five_seconds(client, services) -> None:
    from clipfeed.stream.features import get_user_features

    dave, alice = await signup(client, "dave"), await signup(client, "alice")
    clip = await make_clip(client, services, dave, "fresh #now")
    async with running_role(services=services):
        await send(client, [event("impression", clip, time.time())], alice.auth)  # groups joined, warm
        await wait_for_catch_up(services=services, timeout=60)
        sent = time.monotonic()
        await send(client, [event("complete", clip, time.time(), duration_ms=3000)], alice.auth)
        while time.monotonic() - sent < 5:
            profile = (await get_user_features(services=services, viewers=[alice.id])).get(str(alice.id))
            if profile is not None and profile.top_hashtags and profile.top_hashtags[0][0] == "now":
                break
            await asyncio.sleep(0.05)
        elapsed = time.monotonic() - sent
    assert elapsed < 5, f"the profile took {elapsed:.1f} s"
    assert profile is not None and profile.completion_rate == 0  # a complete without a play_start
