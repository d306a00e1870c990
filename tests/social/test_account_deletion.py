"""A deleted account's social traces go: follows, likes, comments, likes on comments."""

from __future__ import annotations

from tests.helpers import PASSWORD, signup
from tests.social.support import caught_up, ready_clip, stream_role


async def test_deleting_an_account_removes_its_follows_likes_and_comments(client, services) -> None:
    alice, bob, carol = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "carol")
    clip = await ready_clip(client, services, bob)
    async with stream_role(services=services):
        await client.put("/v1/users/bob/follow", headers=alice.auth)
        await client.put("/v1/users/alice/follow", headers=carol.auth)
        await client.put(f"/v1/clips/{clip}/like", headers=alice.auth)
        await client.put(f"/v1/clips/{clip}/bookmark", headers=alice.auth)
        said = (await client.post(f"/v1/clips/{clip}/comments", headers=alice.auth, json={"body": "hi"})).json()
        await client.post(f"/v1/clips/{clip}/comments", headers=carol.auth,
                          json={"body": "yo", "parent_id": said["id"]})
        kept = (await client.post(f"/v1/clips/{clip}/comments", headers=carol.auth, json={"body": "nice"})).json()
        await client.put(f"/v1/clips/{clip}/comments/{kept['id']}/like", headers=alice.auth)
        await caught_up(services=services)
        assert len((await client.get("/v1/notifications", headers=bob.auth)).json()["items"]) == 6
        gone = await client.request("DELETE", "/v1/me", headers=alice.auth, json={"password": PASSWORD})
        assert gone.status_code == 204, gone.text
        await caught_up(services=services)
        engagement = (await client.get(f"/v1/clips/{clip}/engagement", headers=bob.auth)).json()
    assert engagement["counts"]["likes"] == 0 and engagement["counts"]["bookmarks"] == 0
    assert engagement["counts"]["comments"] == 1  # carol's reply went with alice's comment
    assert (await client.get("/v1/users/bob/relationship")).json()["followers_count"] == 0
    assert (await client.get("/v1/users/carol/relationship")).json()["following_count"] == 0
    comments = (await client.get(f"/v1/clips/{clip}/comments")).json()["items"]
    assert [(c["body"], c["like_count"]) for c in comments] == [("nice", 0)]
    assert [n["kind"] for n in (await client.get("/v1/notifications", headers=bob.auth)).json()["items"]] == [
        "comment", "clip_ready"]  # carol's comment stays; what alice did is no longer shown
