"""Two Clipfeed servers federating over real HTTP on two loopback addresses: server A on the
embedded stack, server B on the real one (PostgreSQL, S3, Redis, JetStream), so both adapters
carry the federation tables and queues."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from clipfeed.federation import deliveries
from clipfeed.federation.models import Delivery, ReceivedActivity
from clipfeed.social import engagement
from tests.conftest import real_stack
from tests.delivery import ladder
from tests.federation.remote_peer import queued_activities
from tests.federation.servers import Server, running
from tests.helpers import PASSWORD, Account, wait_for
from tests.social.support import ready_clip

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, postgres_copies: Any,
               s3_endpoint: str, redis_url: str, nats_url: str) -> AsyncIterator[tuple[Server, Server]]:
    """One pair for the module (a server pair costs ~30 s to start): each test has its own users."""
    tmp_path = tmp_path_factory.mktemp("federation")
    with postgres_copies.database() as database_url:
        real = real_stack(database_url, s3_endpoint, redis_url, nats_url)
        async with running("127.0.0.2", tmp_path=tmp_path, sqlite_template=sqlite_template) as a, \
                running("127.0.0.3", tmp_path=tmp_path, sqlite_template=sqlite_template, real=real) as b:
            yield a, b


async def _received(server: Server, activity_type: str, object_uri: str) -> bool:
    """Whether ``server`` has applied-or-queued an activity of this type about ``object_uri``."""
    from clipfeed.core import contract
    from clipfeed.core.events import Event

    await server.services.outbox.flush()
    log = server.services.log
    try:
        partitions = await log.partitions(contract.Topic.FEDERATION_INBOX)
    except Exception:
        return False
    for partition in range(partitions):
        for record in await log.read(contract.Topic.FEDERATION_INBOX, partition, from_offset=0, limit=10_000):
            activity = contract.ACTIVITY_RECEIVED.parse(Event.decode(record.value)).activity
            target = activity.get("object")
            target_id = target.get("id") if isinstance(target, dict) else target
            if activity.get("type") == activity_type and target_id == object_uri:
                return True
    return False


async def _follow_across(a: Server, b: Server, name: str) -> tuple[Account, Account, str]:
    """``name``_b (on B) follows ``name``_a (on A); returns them and the followee's ID on B."""
    alice, bob = await a.account(f"{name}_a"), await b.account(f"{name}_b")
    found = await b.client.get("/v1/federation/lookup", params={"account": a.acct(alice.handle)}, headers=bob.auth)
    assert found.status_code == 200, found.text
    assert found.json()["handle"] == a.acct(alice.handle)
    alice_on_b = found.json()["id"]
    followed = await b.client.put(f"/v1/users/{alice_on_b}/follow", headers=bob.auth)
    assert followed.status_code == 200, followed.text

    async def listed() -> bool:
        page = (await a.client.get(f"/v1/users/{alice.handle}/followers")).json()
        return [entry["user"]["handle"] for entry in page["items"]] == [b.acct(bob.handle)]

    await wait_for(listed, timeout=60)
    return alice, bob, alice_on_b


async def test_a_remote_follow_a_post_a_like_and_a_reply_reach_the_other_server(pair: tuple[Server, Server]) -> None:
    a, b = pair
    alice, bob, alice_on_b = await _follow_across(a, b, "post")
    # A accepted: B got the Accept of bob's Follow.
    bob_uri = f"{b.url}/ap/users/{bob.id}"
    assert (await b.client.get(f"/ap/users/{bob.id}", headers={"Accept": "application/activity+json"})).json()[
        "id"] == bob_uri

    clip = await ladder.publish(services=a.services, owner_id=alice.id, caption="sunset #beach")
    clip_id = str(clip.id)
    clip_uri = f"{a.url}/ap/clips/{clip_id}"

    # The clip reaches bob's Following feed on B and plays from A.
    async def in_bobs_following() -> list[dict]:
        page = await b.client.get("/v1/feed", params={"tab": "following"}, headers=bob.auth)
        assert page.status_code == 200, page.text
        return [item for item in page.json()["items"] if item["clip"]["caption"] == "sunset #beach"]

    async def arrived() -> bool:
        return bool(await in_bobs_following())

    await wait_for(arrived, timeout=60)
    item = (await in_bobs_following())[0]
    assert item["clip"]["owner_handle"] == a.acct(alice.handle)
    assert item["clip"]["hashtags"] == ["beach"]
    master_url = item["playback"]["hls_url"]
    assert master_url.startswith(f"{a.url}/media/clips/{clip_id}/")
    master = await b.client.get(master_url)
    assert master.status_code == 200 and master.text.startswith("#EXTM3U")
    rendition = next(line for line in master.text.splitlines() if line and not line.startswith("#"))
    playlist = await b.client.get(str(httpx.URL(master_url).join(rendition)))
    segment = next(line for line in playlist.text.splitlines() if line.endswith(".m4s"))
    assert (await b.client.get(str(httpx.URL(str(playlist.url)).join(segment)))).content  # the video itself
    # Not in discovery (the instance setting is off): B's search lists its own sunset, not A's.
    await ready_clip(b.client, b.services, bob, caption="sunset here")

    async def searched() -> list[str]:
        found = await b.client.get("/v1/search", params={"q": "sunset", "type": "clips"}, headers=bob.auth)
        assert found.status_code == 200, found.text
        return [hit["clip"]["caption"] for hit in found.json()["clips"]]

    async def indexed() -> bool:
        return "sunset here" in await searched()

    await wait_for(indexed, timeout=60)
    assert await searched() == ["sunset here"]

    # bob likes and answers the clip on B, through B's API: B signs and delivers, A counts and notifies.
    remote_clip = item["clip"]["id"]
    liked = await b.client.put(f"/v1/clips/{remote_clip}/like", headers=bob.auth)
    assert liked.status_code == 200, liked.text
    answered = await b.client.post(f"/v1/clips/{remote_clip}/comments", headers=bob.auth,
                                   json={"body": "what a view\n\nreally"})
    assert answered.status_code == 201, answered.text

    async def liked_and_answered() -> bool:
        comments = (await a.client.get(f"/v1/clips/{clip_id}/comments")).json()["items"]
        notes = (await a.client.get("/v1/notifications", headers=alice.auth)).json()["items"]
        kinds = {item["kind"] for item in notes}
        return [c["body"] for c in comments] == ["what a view\n\nreally"] and {"like", "comment"} <= kinds

    await wait_for(liked_and_answered, timeout=60)
    comment = (await a.client.get(f"/v1/clips/{clip_id}/comments")).json()["items"][0]
    assert comment["author"]["handle"] == b.acct(bob.handle)
    engagement = (await a.client.get(f"/v1/clips/{clip_id}/engagement")).json()
    assert engagement["counts"]["likes"] == 1, engagement

    # bob takes the like back and deletes his comment on B: both go on A.
    assert (await b.client.delete(f"/v1/clips/{remote_clip}/like", headers=bob.auth)).status_code == 200
    removed = await b.client.delete(f"/v1/clips/{remote_clip}/comments/{answered.json()['id']}", headers=bob.auth)
    assert removed.status_code in (200, 204), removed.text

    async def taken_back() -> bool:
        comments = (await a.client.get(f"/v1/clips/{clip_id}/comments")).json()["items"]
        counts = (await a.client.get(f"/v1/clips/{clip_id}/engagement")).json()
        return comments == [] and counts["counts"]["likes"] == 0

    await wait_for(taken_back, timeout=60)

    # Alice deletes the clip: it leaves bob's feed on B.
    deleted = await a.client.delete(f"/v1/clips/{clip_id}", headers=alice.auth)
    assert deleted.status_code == 204, deleted.text

    async def gone_from_b() -> bool:
        return await _received(b, "Delete", clip_uri) and not await in_bobs_following()

    await wait_for(gone_from_b, timeout=60)
    gone = await a.client.get(f"/ap/clips/{clip_id}", headers={"Accept": "application/activity+json"})
    assert gone.status_code == 404


async def test_a_boost_on_the_followers_server_counts_as_a_share_on_the_clips_server(
        pair: tuple[Server, Server]) -> None:
    a, b = pair
    alice, bob, _ = await _follow_across(a, b, "boost")
    clip = await ladder.publish(services=a.services, owner_id=alice.id, caption="boost this one")
    clip_uri = f"{a.url}/ap/clips/{clip.id}"

    async def on_b() -> str | None:
        page = (await b.client.get("/v1/feed", params={"tab": "following"}, headers=bob.auth)).json()
        return next((item["clip"]["id"] for item in page["items"] if item["clip"]["caption"] == "boost this one"),
                    None)

    async def arrived() -> bool:
        return await on_b() is not None

    await wait_for(arrived, timeout=60)
    boosted = await b.client.post(f"/v1/clips/{await on_b()}/shares", headers=bob.auth, json={"channel": "fediverse"})
    assert boosted.status_code == 201, boosted.text

    async def counted() -> bool:
        counts = (await a.client.get(f"/v1/clips/{clip.id}/engagement")).json()["counts"]
        return await _received(a, "Announce", clip_uri) and counts["shares"] == 1

    await wait_for(counted, timeout=60)


async def test_a_private_clip_never_leaves_and_cannot_be_fetched(pair: tuple[Server, Server]) -> None:
    a, b = pair
    alice, _bob, _ = await _follow_across(a, b, "private")
    private = await ready_clip(a.client, a.services, alice, caption="just me", visibility="private")
    public = await ready_clip(a.client, a.services, alice, caption="everyone")

    async def public_arrived() -> bool:
        return await _received(b, "Create", f"{a.url}/ap/clips/{public}")

    await wait_for(public_arrived, timeout=60)
    # The public clip came after the private one, on the same queue: the private one would be there.
    assert not await _received(b, "Create", f"{a.url}/ap/clips/{private}")
    async with a.services.db.session() as session:
        queued = (await session.scalars(sa.select(Delivery.body))).all()
    assert not any(f"/ap/clips/{private}".encode() in body for body in queued)
    fetched = await a.client.get(f"/ap/clips/{private}", headers={"Accept": "application/activity+json"})
    assert fetched.status_code == 404
    shown = await a.client.get(f"/share/c/{public}", headers={"Accept": "application/activity+json"})
    assert shown.status_code == 200 and shown.json()["type"] == "Video"


async def test_a_report_of_a_remote_clip_reaches_its_servers_moderators(pair: tuple[Server, Server]) -> None:
    a, b = pair
    alice, bob, _ = await _follow_across(a, b, "flag")
    clip_id = str((await ladder.publish(services=a.services, owner_id=alice.id, caption="selling followers cheap")).id)

    async def on_b() -> str | None:
        page = (await b.client.get("/v1/feed", params={"tab": "following"}, headers=bob.auth)).json()
        return next((i["clip"]["id"] for i in page["items"] if i["clip"]["caption"] == "selling followers cheap"),
                    None)

    async def arrived() -> bool:
        return await on_b() is not None

    await wait_for(arrived, timeout=60)
    reported = await b.client.post("/v1/reports", headers=bob.auth,
                                   json={"kind": "clip", "id": await on_b(), "category": "spam", "note": "a bot"})
    assert reported.status_code == 202, reported.text
    moderator = await a.account(f"mod_{alice.handle}")
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import Role

    await accounts.set_role(db=a.services.db, cache=a.services.cache, handle=moderator.handle, role=Role.moderator)

    async def in_as_queue() -> bool:
        queue = (await a.client.get("/v1/moderation/queue", headers=moderator.auth)).json()["items"]
        return any(case["subject_id"] == clip_id and case["subject_kind"] == "clip" for case in queue)

    await wait_for(in_as_queue, timeout=60)
    case = next(c for c in (await a.client.get("/v1/moderation/queue", headers=moderator.auth)).json()["items"]
                if c["subject_id"] == clip_id)
    assert case["source"] == "report" and case["report_count"] == 1
    detail = (await a.client.get(f"/v1/moderation/cases/{case['id']}", headers=moderator.auth)).json()
    assert f"from {b.host}" in str(detail), detail  # the report says where it came from


async def test_blocking_a_remote_follower_removes_the_follow_and_tells_its_server(pair: tuple[Server, Server]) -> None:
    a, b = pair
    alice, bob, _ = await _follow_across(a, b, "block")
    bob_on_a = (await a.client.get(f"/v1/users/{alice.handle}/followers")).json()["items"][0]["user"]["id"]
    blocked = await a.client.put(f"/v1/users/{bob_on_a}/block", headers=alice.auth)
    assert blocked.status_code == 200, blocked.text
    assert (await a.client.get(f"/v1/users/{alice.handle}/followers")).json()["items"] == []

    async def b_was_told() -> bool:
        return await _received(b, "Block", f"{b.url}/ap/users/{bob.id}")

    await wait_for(b_was_told, timeout=60)


async def test_blocking_a_server_ends_the_follows_on_both_servers(pair: tuple[Server, Server]) -> None:
    """alice (A) and bob (B) follow each other; alice blocks B: A sends a Reject of bob's Follow
    and an Undo of her own, and B's lists of bob's follows change as A's did."""
    a, b = pair
    alice, bob, _ = await _follow_across(a, b, "walls")
    bob_on_a = (await a.client.get(f"/v1/users/{alice.handle}/followers")).json()["items"][0]["user"]["id"]
    assert (await a.client.put(f"/v1/users/{bob_on_a}/follow", headers=alice.auth)).status_code == 200

    async def handles(server: Server, handle: str, direction: str) -> list[str]:
        page = await server.client.get(f"/v1/users/{handle}/{direction}")
        assert page.status_code == 200, page.text
        return [entry["user"]["handle"] for entry in page.json()["items"]]

    async def followed_back() -> bool:
        return await handles(b, bob.handle, "followers") == [a.acct(alice.handle)]

    await wait_for(followed_back, timeout=60)
    assert await handles(b, bob.handle, "following") == [a.acct(alice.handle)]
    blocked = await a.client.post("/v1/me/domain-blocks", headers=alice.auth, json={"domain": b.host})
    assert blocked.status_code == 200, blocked.text
    assert await handles(a, alice.handle, "followers") == [] and await handles(a, alice.handle, "following") == []

    async def b_lists_no_follows() -> bool:
        return (await handles(b, bob.handle, "following"), await handles(b, bob.handle, "followers")) == ([], [])

    await wait_for(b_lists_no_follows, timeout=60)
    received = await queued_activities(b.services)
    rejects = [item["object"] for item in received if item["type"] == "Reject"
               and item["actor"] == f"{a.url}/ap/users/{alice.id}"]
    # bob's own Follow, named by the ID B gave it, is what A refused.
    sent = [item["id"] for item in await queued_activities(a.services) if item["type"] == "Follow"
            and item["actor"] == f"{b.url}/ap/users/{bob.id}"]
    assert [(r["type"], r["id"], r["actor"]) for r in rejects] == [("Follow", sent[0], f"{b.url}/ap/users/{bob.id}")]
    assert await _received(b, "Undo", f"{a.url}/ap/follows/{alice.id}/{bob_on_a}")


async def test_a_deleted_account_disappears_from_the_other_server(pair: tuple[Server, Server]) -> None:
    a, b = pair
    alice, _bob, alice_on_b = await _follow_across(a, b, "gone")
    assert (await b.client.get(f"/v1/users/{alice_on_b}")).status_code == 200
    deleted = await a.client.request("DELETE", "/v1/me", headers=alice.auth, json={"password": PASSWORD})
    assert deleted.status_code == 204, deleted.text

    async def gone_from_b() -> bool:
        return (await b.client.get(f"/v1/users/{alice_on_b}")).status_code == 404

    await wait_for(gone_from_b, timeout=60)
    actor = await a.client.get(f"/ap/users/{alice.id}", headers={"Accept": "application/activity+json"})
    assert actor.status_code == 410


async def test_a_rotated_key_reaches_the_followers_server_and_signs_from_then_on(pair: tuple[Server, Server]) -> None:
    from clipfeed.federation import keys, outbox
    from clipfeed.federation.models import RemoteActor

    a, b = pair
    alice, bob, alice_on_b = await _follow_across(a, b, "rotate")

    async def accept_sent() -> bool:  # nothing of alice's in flight while her key changes
        async with a.services.db.session() as session:
            return not (await session.scalars(sa.select(Delivery.id))).all()

    await wait_for(accept_sent, timeout=60)
    # Time passes: B fetched alice's key more than a minute ago (it fetches again on a failed
    # signature only then, so that bad requests cannot make it fetch on every one).
    async with b.services.db.session() as session:
        await session.execute(sa.update(RemoteActor).where(RemoteActor.user_id == int(alice_on_b)).values(
            fetched_at=datetime.now(UTC) - timedelta(minutes=2)))
    new_key = await keys.rotate(alice.id, services=a.services)
    assert await outbox.send_profile(alice.id, event_id=a.services.ids.next_id(), services=a.services) == 1

    async def b_has_the_new_key() -> bool:
        async with b.services.db.session() as session:
            stored = await session.scalar(sa.select(RemoteActor.public_pem).where(
                RemoteActor.user_id == int(alice_on_b)))
        return stored == new_key

    await wait_for(b_has_the_new_key, timeout=60)
    await ladder.publish(services=a.services, owner_id=alice.id, caption="signed anew")

    async def arrived() -> bool:  # signed with the new key, and taken
        page = (await b.client.get("/v1/feed", params={"tab": "following"}, headers=bob.auth)).json()
        return any(item["clip"]["caption"] == "signed anew" for item in page["items"])

    await wait_for(arrived, timeout=60)


async def test_a_suspended_server_is_refused_and_nothing_is_stored(pair: tuple[Server, Server]) -> None:
    a, b = pair
    alice, bob, alice_on_b = await _follow_across(a, b, "suspend")
    admin = await a.account("root_admin")
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import Role

    await accounts.set_role(db=a.services.db, cache=a.services.cache, handle="root_admin", role=Role.admin)
    follower = (await a.client.get(f"/v1/users/{alice.handle}/followers")).json()["items"][0]["user"]["id"]
    suspended = await a.client.put(f"/v1/admin/federation/servers/{b.host}", headers=admin.auth,
                                   json={"policy": "suspend"})
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["policy"] == "suspend"
    assert suspended.json()["software"] == "clipfeed"  # read from its NodeInfo when first met
    clip_id = await ready_clip(a.client, a.services, alice, caption="not for them")
    async with a.services.db.session() as session:
        before = await session.scalar(sa.select(sa.func.count()).select_from(ReceivedActivity))
    await deliveries.send_to(int(alice_on_b), kind="Like", signer_id=bob.id, object=f"{a.url}/ap/clips/{clip_id}",
                             services=b.services)

    async def b_gave_up() -> bool:  # A answered 403: final, so B drops the delivery
        async with b.services.db.session() as session:
            return not (await session.scalars(sa.select(Delivery.id).where(Delivery.domain == a.host))).all()

    await wait_for(b_gave_up, timeout=60)
    async with a.services.db.session() as session:
        assert await session.scalar(sa.select(sa.func.count()).select_from(ReceivedActivity)) == before
    # Its accounts are suspended here: bob no longer shows among alice's followers.
    assert (await a.client.get(f"/v1/users/{alice.handle}/followers")).json()["items"] == []
    seen = await engagement.engagement_for(services=a.services, viewer_id=int(follower), clip_ids=[int(clip_id)])
    assert not seen[int(clip_id)].liked_by_me
    # Lifted again (the module's servers are shared): the next test starts from open federation.
    lifted = await a.client.put(f"/v1/admin/federation/servers/{b.host}", headers=admin.auth, json={"policy": "none"})
    assert lifted.status_code == 200
