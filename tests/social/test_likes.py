"""Likes and bookmarks: idempotent writes, read-your-writes flags, eventual counts, privacy,
and concurrency (many users at once, one user many times at once)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import RegisterRequest
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from clipfeed.stream.counters import get_clip_counts
from tests.helpers import PASSWORD, Account, assert_problem, signup
from tests.social.support import caught_up, ready_clip, social_events, stream_role


async def test_a_like_shows_at_once_for_its_author_and_is_published_once(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    clip = await ready_clip(client, services, alice)
    for _ in range(2):
        liked = await client.put(f"/v1/clips/{clip}/like", headers=bob.auth)
        assert liked.status_code == 200, liked.text
        assert liked.json()["liked"] is True
    assert liked.json()["like_count_estimate"] == 1
    seen = (await client.get(f"/v1/clips/{clip}/engagement", headers=bob.auth)).json()
    assert seen["liked_by_me"] is True and seen["bookmarked_by_me"] is False  # no waiting for any worker
    assert (await client.get(f"/v1/clips/{clip}/engagement", headers=alice.auth)).json()["liked_by_me"] is False
    assert (await client.get(f"/v1/clips/{clip}/engagement")).json()["liked_by_me"] is False  # anonymous
    for _ in range(2):
        unliked = (await client.delete(f"/v1/clips/{clip}/like", headers=bob.auth)).json()
        assert unliked["liked"] is False
    assert (await client.get(f"/v1/clips/{clip}/engagement", headers=bob.auth)).json()["liked_by_me"] is False
    added, removed = await social_events("like.added", services=services), await social_events("like.removed",
                                                                                               services=services)
    assert len(added) == 1 and len(removed) == 1
    assert added[0].key == clip and added[0].payload == {"user_id": str(bob.id), "clip_id": clip,
                                                         "creator_id": str(alice.id)}


async def test_private_unready_and_blocked_clips_cannot_be_liked_or_looked_at(client, services) -> None:
    alice, bob, carol = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "carol")
    private = await ready_clip(client, services, alice, visibility="private")
    draft = (await client.post("/v1/clips", headers=alice.auth, json={"caption": "wip"})).json()["id"]
    public = await ready_clip(client, services, alice)
    for clip in (private, draft, "987654321"):
        assert_problem(await client.put(f"/v1/clips/{clip}/like", headers=bob.auth), 404)
        assert_problem(await client.put(f"/v1/clips/{clip}/bookmark", headers=bob.auth), 404)
        assert_problem(await client.get(f"/v1/clips/{clip}/engagement", headers=bob.auth), 404)
    assert (await client.put(f"/v1/clips/{private}/like", headers=alice.auth)).status_code == 200  # her own
    assert_problem(await client.put(f"/v1/clips/{public}/like"), 401)
    await client.put("/v1/users/bob/block", headers=alice.auth)
    assert_problem(await client.put(f"/v1/clips/{public}/like", headers=bob.auth), 404)
    assert_problem(await client.get(f"/v1/clips/{public}/engagement", headers=bob.auth), 404)
    assert (await client.put(f"/v1/clips/{public}/like", headers=carol.auth)).status_code == 200
    batch = (await client.get(f"/v1/engagement?clip_ids={public},{private},{draft}", headers=carol.auth)).json()
    assert [e["clip_id"] for e in batch["items"]] == [public]  # the others are not even mentioned
    assert batch["items"][0]["liked_by_me"] is True
    assert (await client.get(f"/v1/engagement?clip_ids={public}", headers=bob.auth)).json()["items"] == []
    assert_problem(await client.get("/v1/engagement?clip_ids=1,x"), 422)


async def test_my_likes_and_bookmarks_list_newest_first_and_drop_clips_gone_private(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    clips = [await ready_clip(client, services, alice, caption=f"clip {n}") for n in range(3)]
    for clip in clips:
        await client.put(f"/v1/clips/{clip}/like", headers=bob.auth)
    await client.put(f"/v1/clips/{clips[0]}/bookmark", headers=bob.auth)
    first = (await client.get("/v1/me/likes?limit=2", headers=bob.auth)).json()
    assert [c["id"] for c in first["items"]] == [clips[2], clips[1]]
    rest = (await client.get(f"/v1/me/likes?limit=2&cursor={first['next_cursor']}", headers=bob.auth)).json()
    assert [c["id"] for c in rest["items"]] == [clips[0]] and rest["next_cursor"] is None
    assert [c["id"] for c in (await client.get("/v1/me/bookmarks", headers=bob.auth)).json()["items"]] == [clips[0]]
    await client.patch(f"/v1/clips/{clips[1]}", headers=alice.auth, json={"visibility": "private"})
    assert [c["id"] for c in (await client.get("/v1/me/likes", headers=bob.auth)).json()["items"]] == [
        clips[2], clips[0]]
    assert (await client.get("/v1/me/likes", headers=alice.auth)).json()["items"] == []


async def _accounts(count: int, *, services) -> list[Account]:
    made = []
    for n in range(count):
        pair = await accounts.register(db=services.db, outbox=services.outbox, ids=services.ids,
                                       settings=services.settings, request=RegisterRequest(
                                           handle=f"fan{n:03d}", email=f"fan{n}@example.com", password=PASSWORD))
        made.append(Account(id=int(pair.user.id), handle=pair.user.handle, token=pair.access_token,
                            refresh_token=pair.refresh_token))
    return made


@pytest.mark.slow
@pytest.mark.alone  # the retry bound is a bound on the pool's waits: load-sensitive
async def test_concurrent_likes_count_exactly_once_per_user_after_catch_up(client, services) -> None:
    creator, *fans = await _accounts(201, services=services)
    crowd = int((await client.post("/v1/clips", headers=creator.auth, json={"caption": "crowd"})).json()["id"])
    solo = int((await client.post("/v1/clips", headers=creator.auth, json={"caption": "solo"})).json()["id"])
    for clip in (crowd, solo):
        await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=clip, status=ClipStatus.ready)

    retried = []

    async def like(clip: int, who: Account) -> httpx.Response:
        # As a client does: a 503 (the connection pool of this one process is exhausted by 250
        # requests at once on PostgreSQL) is retried, which an idempotent PUT makes safe.
        for _attempt in range(10):
            reply = await client.put(f"/v1/clips/{clip}/like", headers=who.auth)
            if reply.status_code != 503:
                return reply
            retried.append(clip)
            await asyncio.sleep(0.5)
        return reply

    async with stream_role(services=services):
        crowd_replies = await asyncio.gather(*(like(crowd, fan) for fan in fans))
        solo_replies = await asyncio.gather(*(like(solo, fans[0]) for _ in range(50)))
        assert [r.status_code for r in crowd_replies + solo_replies] == [200] * 250
        await caught_up(services=services)
    counts = await get_clip_counts(services=services, clip_ids=[crowd, solo])
    assert counts[crowd].likes == 200
    assert counts[solo].likes == 1
    assert len([e for e in await social_events("like.added", services=services) if e.key == str(solo)]) == 1
    after = (await client.get(f"/v1/clips/{crowd}/engagement", headers=fans[7].auth)).json()
    assert after["counts"]["likes"] == 200 and after["liked_by_me"] is True
    assert len(retried) < 250 // 2, f"{len(retried)} retries"
