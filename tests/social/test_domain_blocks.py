"""Blocks of whole servers ("block domain"): a user blocks every account of another server,
those known now and those met later, through the same rule as a block of one account; with
accounts and clips of a made-up remote server stored as federation stores them (no network)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.core import contract
from clipfeed.core.errors import Forbidden, NotFound
from clipfeed.core.events import Event
from clipfeed.federation import videos
from clipfeed.infra.db import utcnow
from clipfeed.social import comments, engagement, follows
from clipfeed.social import service as social
from clipfeed.social.domain_blocks import MAX_DOMAIN_BLOCKS
from clipfeed.social.models import UserDomainBlock
from clipfeed.social.schemas import CommentCreate
from tests.federation.remote_fixtures import remote_account, video_of
from tests.helpers import PASSWORD, Account, assert_problem, signup, wait_for
from tests.social.support import caught_up, ready_clip, stream_role

PEER = "peer.example"


async def _user(services: Any, account: Account) -> Any:
    return (await accounts.get_many(db=services.db, user_ids=[account.id]))[account.id]


async def _remote_clip(services: Any, author: Any, number: int, caption: str) -> str:
    clip_id = await videos.store(video_of(author.handle.split("@")[0], number, server=author.domain, caption=caption),
                                 sender=author, services=services)
    assert clip_id is not None
    return str(clip_id)


async def _comment(services: Any, author: Any, clip_id: str, body: str, parent_id: str | None = None) -> str:
    made = await comments.create(services=services, user=author, clip_id=int(clip_id),
                                 request=CommentCreate(body=body, parent_id=parent_id))
    return made.id


async def _bodies(client: Any, who: Account, path: str) -> list[str]:
    page = await client.get(path, headers=who.auth)
    assert page.status_code == 200, page.text
    return [c["body"] for c in page.json()["items"]]


async def _handles(client: Any, path: str, who: Account) -> list[str]:
    page = await client.get(path, headers=who.auth)
    assert page.status_code == 200, page.text
    return [entry["user"]["handle"] for entry in page.json()["items"]]


async def _users_topic_events(services: Any, kind: str) -> list[Event]:
    await services.outbox.flush()
    found = []
    for partition in range(await services.log.partitions(contract.Topic.USERS)):
        for record in await services.log.read(contract.Topic.USERS, partition, from_offset=0, limit=100_000):
            event = Event.decode(record.value)
            if event.type == kind:
                found.append(event)
    return found


async def test_a_blocked_servers_accounts_clips_and_comments_vanish_and_come_back_when_unblocked(
        client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    remy = await remote_account(services, "remy")
    other = await remote_account(services, "otto", server="other.example")
    for fan in (alice, bob):
        await follows.follow(services=services, follower=await _user(services, fan), followee=remy)
    await follows.follow(services=services, follower=remy, followee=await _user(services, alice))
    await follows.follow(services=services, follower=other, followee=await _user(services, alice))
    remote_clip = await _remote_clip(services, remy, 1, "remy's lighthouse")
    mine = await ready_clip(client, services, alice, caption="alice at the harbour")
    await _comment(services, remy, mine, "lovely light")
    bobs = await _comment(services, await _user(services, bob), mine, "nice one")
    await _comment(services, remy, mine, "agreed", parent_id=bobs)
    await _comment(services, await _user(services, bob), remote_clip, "from bob")
    assert (await client.get(f"/v1/clips/{remote_clip}", headers=alice.auth)).status_code == 200

    blocked = await client.post("/v1/me/domain-blocks", headers=alice.auth,
                                json={"domain": "https://Peer.Example/@remy"})
    assert blocked.status_code == 200, blocked.text
    assert blocked.json() == {"domain": PEER, "blocking": True}

    # Alice sees nothing of peer.example: its clip is "not found", its comments and replies are gone.
    assert_problem(await client.get(f"/v1/clips/{remote_clip}", headers=alice.auth), 404)
    assert_problem(await client.get(f"/v1/clips/{remote_clip}/comments", headers=alice.auth), 404)
    assert_problem(await client.get(f"/v1/users/{remy.handle}/clips", headers=alice.auth), 404)
    assert await _bodies(client, alice, f"/v1/clips/{mine}/comments") == ["nice one"]
    assert await _bodies(client, alice, f"/v1/clips/{mine}/comments/{bobs}/replies") == []
    # The follows both ways are gone (counts too); the other server's follower stays.
    assert await _handles(client, f"/v1/users/{alice.id}/following", alice) == []
    assert await _handles(client, f"/v1/users/{alice.id}/followers", alice) == [other.handle]
    assert (await client.get(f"/v1/users/{alice.id}/relationship")).json()["followers_count"] == 1
    # ... and none can come back: neither her follow nor theirs (a remote Follow gets a Reject so).
    assert_problem(await client.put(f"/v1/users/{remy.id}/follow", headers=alice.auth), 403)
    with pytest.raises(Forbidden):
        await follows.follow(services=services, follower=remy, followee=await _user(services, alice))
    # peer.example's accounts no longer see her clip (so cannot like or answer it).
    with pytest.raises(NotFound):
        await engagement.set_like(services=services, user=remy, clip_id=int(mine), liked=True)

    # An account of peer.example met after the block is blocked too, both ways.
    nina = await remote_account(services, "nina")
    await follows.follow(services=services, follower=await _user(services, bob), followee=nina)
    ninas_clip = await _remote_clip(services, nina, 2, "nina's first clip")
    assert_problem(await client.get(f"/v1/clips/{ninas_clip}", headers=alice.auth), 404)
    with pytest.raises(NotFound):
        await _comment(services, nina, mine, "hello from a new account")
    with pytest.raises(Forbidden):
        await follows.follow(services=services, follower=nina, followee=await _user(services, alice))
    assert {remy.id, nina.id} <= await social.blocked_user_ids(db=services.db, user_id=alice.id)
    assert await social.blocked_user_ids(db=services.db, user_id=nina.id) == {alice.id}
    assert await social.is_blocked(db=services.db, a=nina.id, b=alice.id)
    assert await social.blocked_pairs(db=services.db, pairs=[(nina.id, alice.id), (nina.id, bob.id)]) == {
        (nina.id, alice.id)}

    # Bob blocks nothing: he sees every clip and comment, and still follows remy.
    for clip in (remote_clip, ninas_clip):
        assert (await client.get(f"/v1/clips/{clip}", headers=bob.auth)).status_code == 200
    assert await _bodies(client, bob, f"/v1/clips/{mine}/comments/{bobs}/replies") == ["agreed"]
    assert sorted(await _handles(client, f"/v1/users/{bob.id}/following", bob)) == sorted([remy.handle, nina.handle])
    assert await social.blocked_user_ids(db=services.db, user_id=bob.id) == set()

    # Unblocking brings everything back into sight, but not the follows.
    unblocked = await client.delete(f"/v1/me/domain-blocks/{PEER}", headers=alice.auth)
    assert unblocked.status_code == 200, unblocked.text
    assert unblocked.json() == {"domain": PEER, "blocking": False}
    assert (await client.get(f"/v1/clips/{remote_clip}", headers=alice.auth)).status_code == 200
    assert (await client.get(f"/v1/clips/{ninas_clip}", headers=alice.auth)).status_code == 200
    assert sorted(await _bodies(client, alice, f"/v1/clips/{mine}/comments")) == ["lovely light", "nice one"]
    assert await _handles(client, f"/v1/users/{alice.id}/following", alice) == []
    assert (await client.get(f"/v1/users/{remy.id}/relationship", headers=alice.auth)).json()["following"] is False
    assert await social.blocked_user_ids(db=services.db, user_id=alice.id) == set()


@pytest.mark.settings(federation_remote_in_discovery=True)
async def test_a_blocked_servers_clips_leave_following_and_search_and_its_notifications_go(client, services) -> None:
    alice = await signup(client, "alice")
    remy = await remote_account(services, "remy")
    await follows.follow(services=services, follower=await _user(services, alice), followee=remy)
    mine = await ready_clip(client, services, alice, caption="my own clip")
    async with stream_role(services=services):
        await _remote_clip(services, remy, 1, "seals on the harbour wall")
        await engagement.set_like(services=services, user=remy, clip_id=int(mine), liked=True)

        async def following() -> list[str]:
            page = await client.get("/v1/feed", params={"tab": "following"}, headers=alice.auth)
            assert page.status_code == 200, page.text
            return [item["clip"]["caption"] for item in page.json()["items"]]

        async def searched() -> list[str]:
            found = await client.get("/v1/search", params={"q": "seals", "type": "clips"}, headers=alice.auth)
            assert found.status_code == 200, found.text
            return [hit["clip"]["caption"] for hit in found.json()["clips"]]

        async def liked_by() -> list[str]:
            inbox = await client.get("/v1/notifications", headers=alice.auth)
            assert inbox.status_code == 200, inbox.text
            return [a["handle"] for n in inbox.json()["items"] if n["kind"] == "like" for a in n["actors"]]

        async def all_there() -> bool:
            return (await following() == ["seals on the harbour wall"] and await searched() == [
                "seals on the harbour wall"] and await liked_by() == [remy.handle])

        await wait_for(all_there, timeout=60)
        blocked = await client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": PEER})
        assert blocked.status_code == 200, blocked.text
        # At once: the next read of each already leaves peer.example out.
        assert await following() == []
        assert await searched() == []
        assert await liked_by() == []
        await caught_up(services=services)
        assert await following() == [] and await searched() == []
    [event] = await _users_topic_events(services, contract.DOMAIN_BLOCK_ADDED.name)
    assert event.key == str(alice.id) and event.payload == {"user_id": str(alice.id), "domain": PEER}


async def test_server_names_are_normalised_and_what_is_no_server_is_refused(client, services) -> None:
    alice = await signup(client, "alice")
    assert_problem(await client.post("/v1/me/domain-blocks", json={"domain": PEER}), 401)
    assert_problem(await client.get("/v1/me/domain-blocks"), 401)
    assert_problem(await client.delete(f"/v1/me/domain-blocks/{PEER}"), 401)
    named = {"Peer.Example": PEER, "https://peer.example/@remy?x=1": PEER, "@remy@peer.example": PEER,
             "peer.example.": PEER, "https://peer.example:443/": PEER, "http://peer.example:80": PEER,
             "peer.example:8443": "peer.example:8443", "Bücher.example": "xn--bcher-kva.example"}
    for given, expected in named.items():
        answer = await client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": given})
        assert answer.status_code == 200, (given, answer.text)
        assert answer.json() == {"domain": expected, "blocking": True}
    listed = (await client.get("/v1/me/domain-blocks", headers=alice.auth)).json()
    assert [b["domain"] for b in listed["items"]] == ["xn--bcher-kva.example", "peer.example:8443", PEER]

    for junk in ("not a server", "ftp://peer.example", "peer..example", "-peer.example", "peer_example.org",
                 "peer.example:99999", "peer.example:port", "[::1]", "https://", "   ", "a" * 64 + ".example"):
        problem = assert_problem(await client.post("/v1/me/domain-blocks", headers=alice.auth,
                                                   json={"domain": junk}), 422)
        assert problem["errors"][0]["location"] == ["body", "domain"], junk
    own = services.settings.base_url
    problem = assert_problem(await client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": own}), 422)
    assert "this server" in problem["detail"]
    assert_problem(await client.post("/v1/me/domain-blocks", headers=alice.auth, json={}), 422)
    assert_problem(await client.delete("/v1/me/domain-blocks/not_a_server", headers=alice.auth), 422)
    listed = (await client.get("/v1/me/domain-blocks", headers=alice.auth)).json()
    assert len(listed["items"]) == 3  # nothing refused was stored


async def test_blocking_is_idempotent_pages_and_is_each_users_own(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    for _ in range(2):
        again = await client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": PEER})
        assert again.json() == {"domain": PEER, "blocking": True}
    for server in ("b.example", "c.example"):
        await client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": server})
    first = (await client.get("/v1/me/domain-blocks?limit=2", headers=alice.auth)).json()
    assert [b["domain"] for b in first["items"]] == ["c.example", "b.example"] and first["next_cursor"]
    rest = (await client.get(f"/v1/me/domain-blocks?limit=2&cursor={first['next_cursor']}", headers=alice.auth)).json()
    assert [b["domain"] for b in rest["items"]] == [PEER] and rest["next_cursor"] is None
    assert len(await _users_topic_events(services, contract.DOMAIN_BLOCK_ADDED.name)) == 3  # not 4

    # Bob's list is his own: his DELETE takes nothing from alice's, his GET sees nothing of it.
    assert (await client.get("/v1/me/domain-blocks", headers=bob.auth)).json()["items"] == []
    gone = await client.delete(f"/v1/me/domain-blocks/{PEER}", headers=bob.auth)
    assert gone.json() == {"domain": PEER, "blocking": False}
    assert (await client.get(f"/v1/me/domain-blocks/{PEER}", headers=alice.auth)).json()["blocking"] is True
    assert (await client.get(f"/v1/me/domain-blocks/{PEER}", headers=bob.auth)).json()["blocking"] is False
    assert len((await client.get("/v1/me/domain-blocks", headers=alice.auth)).json()["items"]) == 3
    assert await _users_topic_events(services, contract.DOMAIN_BLOCK_REMOVED.name) == []

    for _ in range(2):  # unblocking twice is unblocking once (the name read as the server writes it)
        gone = await client.delete("/v1/me/domain-blocks/PEER.example", headers=alice.auth)
        assert gone.json() == {"domain": PEER, "blocking": False}
    assert [b["domain"] for b in (await client.get("/v1/me/domain-blocks", headers=alice.auth)).json()["items"]] == [
        "c.example", "b.example"]
    assert len(await _users_topic_events(services, contract.DOMAIN_BLOCK_REMOVED.name)) == 1


async def test_a_user_blocks_at_most_a_thousand_servers(client, services) -> None:
    alice = await signup(client, "alice")
    async with services.db.session() as session:
        await session.execute(sa.insert(UserDomainBlock), [
            {"user_id": alice.id, "domain": f"s{n}.example", "id": services.ids.next_id(), "created_at": utcnow()}
            for n in range(MAX_DOMAIN_BLOCKS)])
    problem = assert_problem(await client.post("/v1/me/domain-blocks", headers=alice.auth,
                                               json={"domain": "one-more.example"}), 409)
    assert "1000 servers" in problem["detail"]
    # One already blocked is still fine (idempotent), and after an unblock there is room again.
    again = await client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": "s7.example"})
    assert again.status_code == 200, again.text
    assert (await client.delete("/v1/me/domain-blocks/s7.example", headers=alice.auth)).status_code == 200
    added = await client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": "one-more.example"})
    assert added.json() == {"domain": "one-more.example", "blocking": True}


async def test_deleting_an_account_removes_its_server_blocks(client, services) -> None:
    alice = await signup(client, "alice")
    await client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": PEER})
    async with stream_role(services=services):
        deleted = await client.request("DELETE", "/v1/me", headers=alice.auth, json={"password": PASSWORD})
        assert deleted.status_code in (200, 204), deleted.text

        async def none_left() -> bool:
            async with services.db.session() as session:
                return not (await session.scalars(sa.select(UserDomainBlock.domain).where(
                    UserDomainBlock.user_id == alice.id))).all()

        await wait_for(none_left, timeout=60)


async def test_the_cleanup_worker_drops_feed_links_cached_from_blocks_read_before_the_change(client, services) -> None:
    from clipfeed.core.viewers import ViewerId
    from clipfeed.recs.viewers import links_key

    alice = await signup(client, "alice")
    key = links_key(ViewerId.signed_in(alice.id).key)
    assert (await client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": PEER})).status_code == 200
    # A feed build that read alice's blocks just before the commit, and cached them just after.
    await services.cache.set(key, b'{"f": [], "b": []}', ttl=300)
    async with stream_role(services=services):
        await caught_up(services=services)
    assert await services.cache.get(key) is None
