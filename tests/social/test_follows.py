"""Follows, relationship flags, lists, suggestions and blocks, with two to six users."""

from __future__ import annotations

from clipfeed.social import service as social
from tests.helpers import assert_problem, signup
from tests.social.support import social_events


async def test_following_twice_is_following_once_and_counts_stay_exact(client, services) -> None:
    alice, bob, carol = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "carol")
    for _ in range(2):
        state = await client.put(f"/v1/users/{alice.id}/follow", headers=bob.auth)
        assert state.status_code == 200, state.text
        assert state.json() == {"user_id": str(alice.id), "following": True, "follows_you": False,
                                "followers_count": 1, "following_count": 0}
    assert (await client.put("/v1/users/@alice/follow", headers=carol.auth)).json()["followers_count"] == 2
    back = (await client.put("/v1/users/bob/follow", headers=alice.auth)).json()
    assert back["follows_you"] is True and back["following"] is True
    seen_by_bob = (await client.get("/v1/users/alice/relationship", headers=bob.auth)).json()
    assert seen_by_bob == {"user_id": str(alice.id), "following": True, "follows_you": True, "blocking": False,
                           "followers_count": 2, "following_count": 1}
    for _ in range(2):
        gone = (await client.delete(f"/v1/users/{alice.id}/follow", headers=bob.auth)).json()
        assert gone["following"] is False and gone["followers_count"] == 1
    assert await social.follow_counts(db=services.db, user_ids=[alice.id, bob.id]) == {alice.id: (1, 1),
                                                                                        bob.id: (1, 0)}
    added = await social_events("follow.added", services=services)
    removed = await social_events("follow.removed", services=services)
    assert len(added) == 3 and len(removed) == 1  # the repeated PUT and DELETE published nothing
    assert removed[0].key == str(alice.id) and removed[0].payload == {"user_id": str(bob.id),
                                                                      "followee_id": str(alice.id)}


async def test_users_are_named_by_id_or_handle_and_bad_follows_are_refused(client) -> None:
    alice = await signup(client, "alice")
    assert_problem(await client.put("/v1/users/alice/follow"), 401)
    assert_problem(await client.put("/v1/users/alice/follow", headers=alice.auth), 400)  # yourself
    assert_problem(await client.put("/v1/users/nobody_here/follow", headers=alice.auth), 404)
    assert_problem(await client.put("/v1/users/123456789/follow", headers=alice.auth), 404)
    assert_problem(await client.get("/v1/users/@nobody_here/followers"), 404)


async def test_follower_lists_page_with_a_cursor_and_flag_who_follows_you(client) -> None:
    alice = await signup(client, "alice")
    fans = [await signup(client, name) for name in ("bob", "carol", "dave")]
    for fan in fans:
        assert (await client.put("/v1/users/alice/follow", headers=fan.auth)).status_code == 200
    await client.put("/v1/users/carol/follow", headers=alice.auth)
    first = (await client.get("/v1/users/alice/followers?limit=2", headers=alice.auth)).json()
    assert [e["user"]["handle"] for e in first["items"]] == ["dave", "carol"]  # newest first
    assert [(e["following"], e["follows_you"]) for e in first["items"]] == [(False, True), (True, True)]
    rest = (await client.get(f"/v1/users/alice/followers?limit=2&cursor={first['next_cursor']}")).json()
    assert [e["user"]["handle"] for e in rest["items"]] == ["bob"] and rest["next_cursor"] is None
    following = (await client.get("/v1/users/carol/following")).json()
    assert [e["user"]["handle"] for e in following["items"]] == ["alice"]
    assert_problem(await client.get("/v1/users/alice/followers?cursor=not-a-cursor"), 400)
    assert_problem(await client.get("/v1/users/alice/followers?limit=1000"), 422)


async def test_blocking_drops_follows_both_ways_and_stops_new_ones(client, services) -> None:
    alice, bob, carol = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "carol")
    await client.put("/v1/users/bob/follow", headers=alice.auth)
    await client.put("/v1/users/alice/follow", headers=bob.auth)
    await client.put("/v1/users/alice/follow", headers=carol.auth)
    blocked = await client.put("/v1/users/bob/block", headers=alice.auth)
    assert blocked.json() == {"user_id": str(bob.id), "blocking": True}
    assert (await client.put("/v1/users/bob/block", headers=alice.auth)).status_code == 200  # idempotent
    assert await social.follow_counts(db=services.db, user_ids=[alice.id, bob.id]) == {alice.id: (1, 0),
                                                                                        bob.id: (0, 0)}
    assert_problem(await client.put("/v1/users/alice/follow", headers=bob.auth), 403)
    assert_problem(await client.put("/v1/users/bob/follow", headers=alice.auth), 403)
    # Bob no longer sees Alice's followers; Carol still does, without Bob in them.
    assert_problem(await client.get("/v1/users/alice/followers", headers=bob.auth), 404)
    assert [e["user"]["handle"] for e in (await client.get("/v1/users/alice/followers",
                                                           headers=carol.auth)).json()["items"]] == ["carol"]
    assert await social.blocked_user_ids(db=services.db, user_id=bob.id) == {alice.id}
    assert await social.blocked_user_ids(db=services.db, user_id=alice.id) == {bob.id}
    assert await social.blocked_user_ids(db=services.db, user_id=carol.id) == set()
    mine = (await client.get("/v1/me/blocks", headers=alice.auth)).json()
    assert [b["user"]["handle"] for b in mine["items"]] == ["bob"]
    assert (await client.get("/v1/me/blocks", headers=bob.auth)).json()["items"] == []
    assert (await client.get("/v1/users/bob/relationship", headers=alice.auth)).json()["blocking"] is True
    assert (await client.delete("/v1/users/bob/block", headers=alice.auth)).json()["blocking"] is False
    assert (await client.put("/v1/users/alice/follow", headers=bob.auth)).status_code == 200
    assert len(await social_events("block.added", services=services)) == 1
    assert len(await social_events("block.removed", services=services)) == 1


async def test_suggestions_are_friends_of_friends_then_popular_creators(client) -> None:
    alice, bob, carol, dave, erin, frank = [await signup(client, n) for n in
                                            ("alice", "bob", "carol", "dave", "erin", "frank")]
    await client.put("/v1/users/bob/follow", headers=alice.auth)
    await client.put("/v1/users/erin/follow", headers=alice.auth)
    for follower in (bob, erin):  # dave is followed by two of Alice's friends, carol by one
        await client.put("/v1/users/dave/follow", headers=follower.auth)
    await client.put("/v1/users/carol/follow", headers=bob.auth)
    for follower in (bob, carol, dave):  # frank is popular but no friend of a friend
        await client.put("/v1/users/frank/follow", headers=follower.auth)
    await client.put("/v1/users/frank/block", headers=carol.auth)  # drops carol's follow of frank
    suggested = (await client.get("/v1/me/suggested-creators", headers=alice.auth)).json()["items"]
    assert [(s["user"]["handle"], s["reason"], s["mutual_count"]) for s in suggested][:3] == [
        ("dave", "followed_by_friends", 2), ("carol", "followed_by_friends", 1), ("frank", "followed_by_friends", 1)]
    assert all(s["user"]["handle"] not in ("alice", "bob", "erin") for s in suggested)
    for_carol = (await client.get("/v1/me/suggested-creators", headers=carol.auth)).json()["items"]
    assert "frank" not in [s["user"]["handle"] for s in for_carol]  # blocked
    popular = [s for s in for_carol if s["reason"] == "popular_in_region"]
    assert popular and popular[0]["followers_count"] >= 1
