"""The creator can always remove a comment on their own clip, a blocked user's included."""

from __future__ import annotations

from tests.helpers import assert_problem, signup
from tests.social.support import ready_clip


async def test_the_creator_deletes_a_comment_by_a_user_they_blocked_afterwards(client, services) -> None:
    alice, bob, dave = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "dave")
    clip_id = await ready_clip(client, services, alice)
    made = await client.post(f"/v1/clips/{clip_id}/comments", headers=bob.auth, json={"body": "rude words"})
    assert made.status_code == 201, made.text
    comment_id = made.json()["id"]
    assert (await client.put("/v1/users/bob/block", headers=alice.auth)).status_code == 200
    seen = (await client.get(f"/v1/clips/{clip_id}/comments", headers=dave.auth)).json()["items"]
    assert [c["id"] for c in seen] == [comment_id]  # everyone else still sees it
    removed = await client.delete(f"/v1/clips/{clip_id}/comments/{comment_id}", headers=alice.auth)
    assert removed.status_code == 200, removed.text
    assert (await client.get(f"/v1/clips/{clip_id}/comments", headers=dave.auth)).json()["items"] == []
    again = await client.delete(f"/v1/clips/{clip_id}/comments/{comment_id}", headers=alice.auth)
    assert_problem(again, 404)


async def test_others_still_cannot_delete_someone_elses_comment(client, services) -> None:
    alice, bob, dave = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "dave")
    clip_id = await ready_clip(client, services, alice)
    comment_id = (await client.post(f"/v1/clips/{clip_id}/comments", headers=bob.auth,
                                    json={"body": "fine words"})).json()["id"]
    assert_problem(await client.delete(f"/v1/clips/{clip_id}/comments/{comment_id}", headers=dave.auth), 403)
    other_clip = await ready_clip(client, services, dave)
    # A creator's power stops at their own clips: the comment's ID under another clip is no one's.
    assert_problem(await client.delete(f"/v1/clips/{other_clip}/comments/{comment_id}", headers=dave.auth), 404)
