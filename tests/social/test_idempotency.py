"""``Idempotency-Key`` on writes: replays, mismatches, concurrent duplicates, failures."""

from __future__ import annotations

import asyncio

from tests.helpers import assert_problem, signup
from tests.social.support import ready_clip, social_events


async def test_a_retried_comment_with_the_same_key_is_created_once(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    clip = await ready_clip(client, services, alice)
    headers = {**bob.auth, "Idempotency-Key": "comment-7f3a"}
    first = await client.post(f"/v1/clips/{clip}/comments", headers=headers, json={"body": "hello"})
    again = await client.post(f"/v1/clips/{clip}/comments", headers=headers, json={"body": "hello"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert len((await client.get(f"/v1/clips/{clip}/comments")).json()["items"]) == 1
    changed = await client.post(f"/v1/clips/{clip}/comments", headers=headers, json={"body": "hello!"})
    assert_problem(changed, 422)
    # Keys belong to their user: the same key from someone else is a new request.
    mine = await client.post(f"/v1/clips/{clip}/comments", headers={**alice.auth, "Idempotency-Key": "comment-7f3a"},
                             json={"body": "hello"})
    assert mine.status_code == 201 and mine.json()["id"] != first.json()["id"]


async def test_concurrent_duplicates_write_once_and_errors_are_not_remembered(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    clip = await ready_clip(client, services, alice)
    headers = {**bob.auth, "Idempotency-Key": "share-1"}
    replies = await asyncio.gather(*(client.post(f"/v1/clips/{clip}/shares", headers=headers,
                                                 json={"channel": "link"}) for _ in range(5)))
    codes = sorted(r.status_code for r in replies)
    assert codes.count(201) >= 1 and set(codes) <= {201, 409}
    assert all(r.headers.get("retry-after") for r in replies if r.status_code == 409)
    assert len(await social_events("share.created", services=services)) == 1
    private = await ready_clip(client, services, alice, visibility="private")
    key = {**bob.auth, "Idempotency-Key": "like-private"}
    assert_problem(await client.put(f"/v1/clips/{private}/like", headers=key), 404)
    await client.patch(f"/v1/clips/{private}", headers=alice.auth, json={"visibility": "public"})
    later = await client.put(f"/v1/clips/{private}/like", headers=key)  # the 404 was not stored
    assert later.status_code == 200 and later.json()["liked"] is True
    assert_problem(await client.put(f"/v1/clips/{clip}/like", headers={**bob.auth, "Idempotency-Key": "x" * 300}), 400)
