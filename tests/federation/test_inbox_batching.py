"""The inbox's fast path: what each process keeps of server policies and signers' keys (and how
soon a change is seen), the group commit of concurrent activities, and the worker applying Likes
and Follows a run at a time with the same outcomes as one at a time.

Over real HTTP where the sender's view matters (one Clipfeed server with its federation worker,
peers in the test's process that sign what they post); on the services where the write itself is
what is tested."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role, User
from clipfeed.core import contract
from clipfeed.core.events import Event
from clipfeed.federation import apply, policy, publish
from clipfeed.federation.inbox import ReceivedWriter, activity_digest
from clipfeed.federation.models import Delivery, ReceivedActivity, RemoteActor, RemoteInstance
from clipfeed.infra.log import Record
from clipfeed.social import blocks, follows
from clipfeed.social.models import Follow, Like
from tests.federation.remote_fixtures import remote_account
from tests.federation.remote_peer import Peer, PeerAccount, post_activity, queued_activities, serving_peer
from tests.federation.servers import Server, running
from tests.helpers import Account, assert_problem, signup, wait_for
from tests.social.support import ready_clip

pytestmark = pytest.mark.timeout(240)


# --- over HTTP: policies and keys as each process keeps them --------------------------------

@pytest.fixture(scope="module")
async def clipfeed(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> AsyncIterator[Server]:
    async with running("127.0.0.12", tmp_path=tmp_path_factory.mktemp("batching"),
                       sqlite_template=sqlite_template) as server:
        yield server


@pytest.fixture(scope="module")
async def peer() -> AsyncIterator[Peer]:
    async with serving_peer("127.0.0.13") as started:
        yield started


@pytest.fixture(scope="module")
async def alice(clipfeed: Server) -> Account:
    return await clipfeed.account("alice")


@pytest.fixture(scope="module")
async def admin(clipfeed: Server) -> Account:
    made = await clipfeed.account("batching_admin")
    await accounts.set_role(db=clipfeed.services.db, cache=clipfeed.services.cache, handle="batching_admin",
                            role=Role.admin)
    return made


def _inbox(clipfeed: Server, alice: Account) -> str:
    return f"{clipfeed.url}/ap/users/{alice.id}/inbox"


def _follow(account: PeerAccount, clipfeed: Server, alice: Account) -> dict[str, Any]:
    return account.activity("Follow", f"{clipfeed.url}/ap/users/{alice.id}")


async def _followers(clipfeed: Server, alice: Account) -> list[str]:
    page = await clipfeed.client.get(f"/v1/users/{alice.handle}/followers")
    assert page.status_code == 200, page.text
    return [entry["user"]["handle"] for entry in page.json()["items"]]


async def _received(clipfeed: Server, activity: dict[str, Any]) -> bool:
    async with clipfeed.services.db.session() as session:
        return await session.get(ReceivedActivity, activity_digest(activity["id"])) is not None


async def test_a_suspension_through_the_admin_api_refuses_the_very_next_activity(
        clipfeed: Server, alice: Account, admin: Account) -> None:
    async with serving_peer("127.0.0.14") as other:
        olga = other.account("olga")
        first = _follow(olga, clipfeed, alice)
        assert (await post_activity(clipfeed.client, _inbox(clipfeed, alice), first, signer=olga)).status_code == 202
        # This process now holds the server's policy ("none") and olga's key.
        suspended = await clipfeed.client.put(f"/v1/admin/federation/servers/{other.host}", headers=admin.auth,
                                              json={"policy": "suspend"})
        assert suspended.status_code == 200, suspended.text
        refused_follow = olga.activity("Like", f"{clipfeed.url}/ap/clips/1")
        refused = await post_activity(clipfeed.client, f"{clipfeed.url}/ap/inbox", refused_follow, signer=olga)
        assert "does not federate" in assert_problem(refused, 403)["detail"]
        assert not await _received(clipfeed, refused_follow)

        lifted = await clipfeed.client.put(f"/v1/admin/federation/servers/{other.host}", headers=admin.auth,
                                           json={"policy": "none"})
        assert lifted.status_code == 200, lifted.text
        again = _follow(olga, clipfeed, alice)
        taken = await post_activity(clipfeed.client, _inbox(clipfeed, alice), again, signer=olga)
        assert taken.status_code == 202, taken.text


async def test_a_policy_set_by_another_process_takes_effect_once_this_processs_copy_is_old(
        clipfeed: Server, peer: Peer, alice: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    pia = peer.account("pia")
    inbox_url = _inbox(clipfeed, alice)
    assert (await post_activity(clipfeed.client, inbox_url, _follow(pia, clipfeed, alice), signer=pia)
            ).status_code == 202
    # Another process (the CLI, another API process) suspends the server: a write to the row
    # alone, which this process does not hear of.
    async with clipfeed.services.db.session() as session:
        await session.execute(sa.update(RemoteInstance).where(RemoteInstance.domain == peer.host).values(
            policy="suspend"))
    try:
        within = _follow(pia, clipfeed, alice)
        # Within STATE_TTL_S this process still goes by what it read: the documented staleness.
        assert (await post_activity(clipfeed.client, inbox_url, within, signer=pia)).status_code == 202
        real = policy.clock
        monkeypatch.setattr(policy, "clock", lambda: real() + policy.STATE_TTL_S + 1)
        after = _follow(pia, clipfeed, alice)
        refused = await post_activity(clipfeed.client, inbox_url, after, signer=pia)
        assert "does not federate" in assert_problem(refused, 403)["detail"]
        assert not await _received(clipfeed, after)
    finally:
        await policy.set_policy(peer.host, policy.DomainPolicy.none, services=clipfeed.services)


async def test_a_key_another_process_fetched_again_is_used_without_fetching_it(
        clipfeed: Server, peer: Peer, alice: Account) -> None:
    quinn = peer.account("quinn")
    inbox_url = _inbox(clipfeed, alice)
    assert (await post_activity(clipfeed.client, inbox_url, _follow(quinn, clipfeed, alice), signer=quinn)
            ).status_code == 202
    quinn.rotate_key()
    # Another process met the new key (an Update of the actor, a refused delivery) and stored it.
    async with clipfeed.services.db.session() as session:
        await session.execute(sa.update(RemoteActor).where(RemoteActor.uri == quinn.uri).values(
            public_pem=quinn.public_pem))
    fetches = len(peer.fetched)
    follow = _follow(quinn, clipfeed, alice)
    # This process's copy fails; the stored row is read again and verifies: one failed check,
    # no fetch.
    taken = await post_activity(clipfeed.client, inbox_url, follow, signer=quinn)
    assert taken.status_code == 202, taken.text
    assert len(peer.fetched) == fetches
    assert await _received(clipfeed, follow)


async def test_a_key_rotated_at_its_server_is_fetched_after_one_failed_check(
        clipfeed: Server, peer: Peer, alice: Account) -> None:
    rosa = peer.account("rosa")
    inbox_url = _inbox(clipfeed, alice)
    assert (await post_activity(clipfeed.client, inbox_url, _follow(rosa, clipfeed, alice), signer=rosa)
            ).status_code == 202
    rosa.rotate_key()
    async with clipfeed.services.db.session() as session:  # fetched more than a minute ago
        await session.execute(sa.update(RemoteActor).where(RemoteActor.uri == rosa.uri).values(
            fetched_at=datetime.now(UTC) - timedelta(seconds=61)))
    fetches = len(peer.fetched)
    follow = _follow(rosa, clipfeed, alice)
    taken = await post_activity(clipfeed.client, inbox_url, follow, signer=rosa)
    assert taken.status_code == 202, taken.text
    assert len(peer.fetched) == fetches + 1
    async with clipfeed.services.db.session() as session:
        stored = await session.scalar(sa.select(RemoteActor.public_pem).where(RemoteActor.uri == rosa.uri))
    assert stored == rosa.public_pem


# --- over HTTP: many activities at once -------------------------------------------------------

async def test_many_activities_posted_at_once_are_each_taken_once(
        clipfeed: Server, peer: Peer, alice: Account) -> None:
    senders = [peer.account(f"crowd{n}") for n in range(24)]
    follows_ = [(sender, _follow(sender, clipfeed, alice)) for sender in senders]
    answers = await asyncio.gather(*(post_activity(clipfeed.client, _inbox(clipfeed, alice), follow, signer=sender)
                                     for sender, follow in follows_))
    assert [answer.status_code for answer in answers] == [202] * len(senders)
    queued = [activity["id"] for activity in await queued_activities(clipfeed.services)]
    assert all(queued.count(follow["id"]) == 1 for _, follow in follows_)

    async def all_following() -> bool:
        async with clipfeed.services.db.session() as session:
            handles = set((await session.scalars(sa.select(User.handle).join(Follow, Follow.follower_id == User.id)
                                                 .where(Follow.followee_id == alice.id))).all())
        return {f"{s.name}@{peer.host}" for s in senders} <= handles

    await wait_for(all_following, timeout=60)


async def test_the_same_activity_posted_many_times_at_once_is_taken_once(
        clipfeed: Server, peer: Peer, alice: Account) -> None:
    sara = peer.account("sara")
    follow = _follow(sara, clipfeed, alice)
    body = json.dumps(follow).encode()
    headers = sara.signed_headers(_inbox(clipfeed, alice), body)
    answers = await asyncio.gather(*(clipfeed.client.post(_inbox(clipfeed, alice), content=body, headers=headers)
                                     for _ in range(12)))
    assert sorted(answer.status_code for answer in answers) == [202] + [409] * 11
    for answer in answers:
        if answer.status_code == 409:
            assert "already received" in assert_problem(answer, 409)["detail"]
    assert [activity["id"] for activity in await queued_activities(clipfeed.services)].count(follow["id"]) == 1


# --- the group commit itself ------------------------------------------------------------------

def _queued(n: int, sender_id: int = 1) -> contract.ActivityReceived:
    return contract.ActivityReceived(activity={"id": f"https://peer.example/activities/{n}", "type": "Like",
                                               "actor": "https://peer.example/users/u"},
                                     sender_id=sender_id, recipient_id=None)


async def _stored_digests(services: Any) -> set[bytes]:
    async with services.db.session() as session:
        return {bytes(d) for d in (await session.scalars(sa.select(ReceivedActivity.digest))).all()}


@pytest.mark.parametrize("stack", ["embedded", "real"], indirect=True)
async def test_one_batch_takes_each_id_once_against_the_table_and_within_itself(services) -> None:
    writer = ReceivedWriter.of(services.db)
    earlier = _queued(0)
    assert await writer.store(activity_digest(earlier.activity["id"]), key="k", activity=earlier, services=services)
    # Handed over in one turn of the loop: committed together.
    batch = [_queued(0), _queued(1), _queued(2), _queued(1), _queued(3), _queued(2)]
    outcomes = await asyncio.gather(*(writer.store(activity_digest(item.activity["id"]), key="k", activity=item,
                                                   services=services) for item in batch))
    assert outcomes == [False, True, True, False, True, False]
    assert await _stored_digests(services) == {activity_digest(f"https://peer.example/activities/{n}")
                                               for n in range(4)}
    queued = [activity["id"] for activity in await queued_activities(services)]
    assert sorted(queued) == [f"https://peer.example/activities/{n}" for n in range(4)]


async def _refuse_outbox_rows(services: Any, *, when: str = "1") -> None:
    """The outbox refuses rows matching ``when``: a failure inside the inbox's transaction."""
    async with services.db.session() as session:
        await session.execute(sa.text(
            f"CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox WHEN {when} "
            "BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"))


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_a_failing_batch_stores_nothing_and_each_sender_gets_the_error(services) -> None:
    await _refuse_outbox_rows(services)
    writer = ReceivedWriter.of(services.db)
    batch = [_queued(n) for n in range(5)]
    outcomes = await asyncio.gather(*(writer.store(activity_digest(item.activity["id"]), key=f"k{n}", activity=item,
                                                   services=services) for n, item in enumerate(batch)),
                                    return_exceptions=True)
    assert all(isinstance(outcome, sa.exc.IntegrityError) and "outbox refused" in str(outcome)
               for outcome in outcomes), outcomes
    assert await _stored_digests(services) == set()
    assert await queued_activities(services) == []


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_one_activity_that_cannot_be_stored_fails_alone(services) -> None:
    await _refuse_outbox_rows(services, when="NEW.key = 'poison'")
    writer = ReceivedWriter.of(services.db)
    batch = [_queued(n) for n in range(4)]
    keys = ["k0", "poison", "k2", "k3"]
    outcomes = await asyncio.gather(*(writer.store(activity_digest(item.activity["id"]), key=key, activity=item,
                                                   services=services) for key, item in zip(keys, batch, strict=True)),
                                    return_exceptions=True)
    assert outcomes[0] is True and outcomes[2] is True and outcomes[3] is True
    assert isinstance(outcomes[1], sa.exc.IntegrityError)
    assert await _stored_digests(services) == {activity_digest(batch[n].activity["id"]) for n in (0, 2, 3)}


# --- the worker: runs of Likes and Follows --------------------------------------------------

def _record(services: Any, activity: dict[str, Any], sender_id: int, offset: int) -> Record:
    event = contract.ACTIVITY_RECEIVED.event(
        id=services.ids.next_id(), key=str(activity["actor"]),
        payload=contract.ActivityReceived(activity=activity, sender_id=sender_id, recipient_id=None))
    return Record(topic=contract.Topic.FEDERATION_INBOX, partition=0, offset=offset, timestamp=datetime.now(UTC),
                  key=None, value=event.encode(), headers={})


@pytest.mark.parametrize("stack", ["embedded", "real"], indirect=True)
async def test_a_batch_applies_likes_and_follows_as_one_at_a_time_would(client, services) -> None:
    creator = await signup(client, "creator")
    clip_ids = [int(await ready_clip(client, services, creator, caption=f"clip {n}")) for n in range(3)]
    fans = [await remote_account(services, f"fan{n}") for n in range(4)]
    blocked = await remote_account(services, "blocked")
    local = (await accounts.get_many(db=services.db, user_ids=[creator.id]))[creator.id]
    await blocks.block(services=services, blocker=local, blocked=blocked)
    uris = publish.uris(services=services)
    creator_uri = uris.actor(creator.id)

    def activity(sender: Any, name: str, kind: str, target: Any) -> dict[str, Any]:
        actor = f"https://peer.example/users/{sender.handle.split('@')[0]}"
        return {"id": f"{actor}/{name}", "type": kind, "actor": actor, "object": target}

    follow_then_undo = activity(fans[0], "follow-1", "Follow", creator_uri)
    batch = [
        *(activity(fan, f"like-{clip_id}", "Like", uris.clip(clip_id)) for fan in fans for clip_id in clip_ids),
        activity(fans[1], f"like-{clip_ids[0]}", "Like", uris.clip(clip_ids[0])),  # the same Like again
        follow_then_undo,
        activity(fans[1], "follow-1", "Follow", creator_uri),
        activity(fans[0], "undo-1", "Undo", follow_then_undo),  # after its Follow, in the same batch
        activity(fans[2], "follow-1", "Follow", creator_uri),
        activity(blocked, "follow-1", "Follow", creator_uri),
        activity(blocked, f"like-{clip_ids[0]}", "Like", uris.clip(clip_ids[0])),
        activity(fans[3], "like-missing", "Like", uris.clip(clip_ids[-1] + 12345)),
    ]
    senders = {f"https://peer.example/users/{u.handle.split('@')[0]}": u.id for u in [*fans, blocked]}
    records = [_record(services, item, senders[item["actor"]], n) for n, item in enumerate(batch)]
    worker = apply.InboxWorker(services=services)
    await worker.handle(records)
    await worker.handle(records)  # redelivered: changes nothing

    async with services.db.session() as session:
        likes = set((await session.execute(sa.select(Like.user_id, Like.clip_id).where(
            Like.clip_id.in_(clip_ids)))).all())
        followers = set((await session.scalars(sa.select(Follow.follower_id).where(
            Follow.followee_id == creator.id))).all())
        answers = [json.loads(row.body) for row in (await session.scalars(sa.select(Delivery))).all()]
    assert likes == {(fan.id, clip_id) for fan in fans for clip_id in clip_ids}
    assert followers == {fans[1].id, fans[2].id}  # fans[0] followed, then took it back
    assert (await follows.follow_counts(db=services.db, user_ids=[creator.id]))[creator.id][0] == 2
    answered = {(answer["type"], answer["object"]["actor"]) for answer in answers}
    assert answered == {("Accept", f"https://peer.example/users/fan{n}") for n in range(3)} | {
        ("Reject", "https://peer.example/users/blocked")}
    announced = await _likes_announced(services)
    assert sorted((like.user_id, like.clip_id) for like in announced) == sorted(likes)  # none for a repeat
    assert {like.creator_id for like in announced} == {creator.id}


async def _likes_announced(services: Any) -> list[contract.ClipEngagement]:
    """The ``like.added`` events on the social topic (what counts and notifies a like)."""
    await services.outbox.flush()
    found = []
    for partition in range(await services.log.partitions(contract.Topic.SOCIAL)):
        for record in await services.log.read(contract.Topic.SOCIAL, partition, from_offset=0, limit=10_000):
            event = Event.decode(record.value)
            if event.type == contract.LIKE_ADDED.name:
                found.append(contract.LIKE_ADDED.parse(event))
    return found
