"""What Clipfeed's inboxes refuse, over real HTTP: one Clipfeed server (embedded stack, with its
federation worker) and other servers in the test's process whose accounts sign what they post.

Every refusal is checked from both sides: the answer the sender gets, and that nothing was kept
(no ``federation_received`` row, nothing queued on ``federation.inbox``, no follow)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from clipfeed.federation.inbox import activity_digest
from clipfeed.federation.models import ReceivedActivity, RemoteActor
from clipfeed.federation.signatures import digest_header, generate_key_pair
from clipfeed.infra.db import utcnow
from tests.federation.remote_peer import (
    Peer,
    PeerAccount,
    post_activity,
    queued_activities,
    serving_peer,
)
from tests.federation.servers import Server, running
from tests.helpers import Account, assert_problem, wait_for

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
async def clipfeed(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                   sqlite_template: Path) -> AsyncIterator[Server]:
    async with running("127.0.0.4", tmp_path=tmp_path_factory.mktemp("inbox"),
                       sqlite_template=sqlite_template) as server:
        yield server


@pytest.fixture(scope="module")
async def peer() -> AsyncIterator[Peer]:
    async with serving_peer("127.0.0.5") as started:
        yield started


@pytest.fixture(scope="module")
async def alice(clipfeed: Server) -> Account:
    return await clipfeed.account("alice")


def _refused(response: httpx.Response, status: int, reason: str) -> None:
    """A problem answer, for the reason the test provoked (not one it did not mean to)."""
    assert reason in assert_problem(response, status)["detail"]


def _inbox(clipfeed: Server, alice: Account) -> str:
    return f"{clipfeed.url}/ap/users/{alice.id}/inbox"


def _follow(account: PeerAccount, clipfeed: Server, alice: Account) -> dict[str, Any]:
    return account.activity("Follow", f"{clipfeed.url}/ap/users/{alice.id}")


async def _followers(clipfeed: Server, alice: Account) -> list[str]:
    page = await clipfeed.client.get(f"/v1/users/{alice.handle}/followers")
    assert page.status_code == 200, page.text
    return [entry["user"]["handle"] for entry in page.json()["items"]]


async def _assert_nothing_kept(clipfeed: Server, alice: Account, activity: dict[str, Any], sender: PeerAccount,
                               peer: Peer) -> None:
    async with clipfeed.services.db.session() as session:
        assert await session.get(ReceivedActivity, activity_digest(activity["id"])) is None
    assert activity["id"] not in [queued.get("id") for queued in await queued_activities(clipfeed.services)]
    assert f"{sender.name}@{peer.host}" not in await _followers(clipfeed, alice)


async def test_a_signed_follow_is_taken_once_and_its_replay_changes_nothing(
        clipfeed: Server, peer: Peer, alice: Account) -> None:
    bob = peer.account("bob")
    follow = _follow(bob, clipfeed, alice)
    body = json.dumps(follow).encode()
    headers = bob.signed_headers(_inbox(clipfeed, alice), body)
    first = await clipfeed.client.post(_inbox(clipfeed, alice), content=body, headers=headers)
    assert first.status_code == 202, first.text
    # The very same request again, as a replaying attacker (or a confused sender) would send it.
    again = await clipfeed.client.post(_inbox(clipfeed, alice), content=body, headers=headers)
    _refused(again, 409, "already received")

    async def accepted() -> bool:
        return any(sent["type"] == "Accept" and sent["object"]["id"] == follow["id"] for sent in peer.delivered)

    await wait_for(accepted, timeout=60)
    assert await _followers(clipfeed, alice) == [f"bob@{peer.host}"]
    assert [queued["id"] for queued in await queued_activities(clipfeed.services)].count(follow["id"]) == 1
    async with clipfeed.services.db.session() as session:
        assert await session.get(ReceivedActivity, activity_digest(follow["id"])) is not None
    assert [sent["type"] for sent in peer.delivered if sent["object"]["id"] == follow["id"]] == ["Accept"]


async def test_a_body_changed_after_signing_is_refused(clipfeed: Server, peer: Peer, alice: Account) -> None:
    carol = peer.account("carol")
    follow = _follow(carol, clipfeed, alice)
    signed = json.dumps(follow).encode()
    headers = carol.signed_headers(_inbox(clipfeed, alice), signed)
    sent = json.dumps(follow | {"object": f"{clipfeed.url}/ap/users/{alice.id}", "note": "changed"}).encode()
    # The Digest still names the signed body: it does not match the one sent.
    refused = await clipfeed.client.post(_inbox(clipfeed, alice), content=sent, headers=headers)
    _refused(refused, 401, "does not match the body")
    # A Digest recomputed for the new body is no longer the one the signature covers.
    redigested = await clipfeed.client.post(_inbox(clipfeed, alice), content=sent,
                                            headers=headers | {"Digest": digest_header(sent)})
    _refused(redigested, 401, "does not verify")
    await _assert_nothing_kept(clipfeed, alice, follow, carol, peer)


async def test_a_request_signed_with_a_key_not_the_actors_is_refused(
        clipfeed: Server, peer: Peer, alice: Account) -> None:
    dave = peer.account("dave")
    follow = _follow(dave, clipfeed, alice)
    body = json.dumps(follow).encode()
    other_key, _ = generate_key_pair()
    refused = await clipfeed.client.post(_inbox(clipfeed, alice), content=body,
                                         headers=dave.signed_headers(_inbox(clipfeed, alice), body,
                                                                     private_pem=other_key))
    _refused(refused, 401, "does not verify")
    await _assert_nothing_kept(clipfeed, alice, follow, dave, peer)


@pytest.mark.parametrize("offset", ["expired", "ahead"])
async def test_a_signature_dated_outside_the_window_is_refused(
        clipfeed: Server, peer: Peer, alice: Account, offset: str) -> None:
    settings = clipfeed.services.settings
    shift = (-settings.federation_signature_max_age_s if offset == "expired"
             else settings.federation_signature_max_future_s) + (-60 if offset == "expired" else 60)
    sender = peer.account(f"erin_{offset}")
    follow = _follow(sender, clipfeed, alice)
    refused = await post_activity(clipfeed.client, _inbox(clipfeed, alice), follow, signer=sender,
                                  now=datetime.now(UTC) + timedelta(seconds=shift))
    _refused(refused, 401, "s old" if offset == "expired" else "ahead of our clock")
    await _assert_nothing_kept(clipfeed, alice, follow, sender, peer)


async def test_an_activity_whose_actor_or_id_is_not_the_signers_is_refused(
        clipfeed: Server, peer: Peer, alice: Account) -> None:
    frank, grace = peer.account("frank"), peer.account("grace")
    # frank signs a Follow that claims to be grace's: he cannot make her follow anyone.
    forged = _follow(grace, clipfeed, alice)
    refused = await post_activity(clipfeed.client, _inbox(clipfeed, alice), forged, signer=frank)
    _refused(refused, 401, "not the signer's")
    await _assert_nothing_kept(clipfeed, alice, forged, grace, peer)
    # Nor may he name an activity of another server (whose ID a later Undo or Delete would find).
    elsewhere = _follow(frank, clipfeed, alice) | {"id": f"http://127.0.0.9:1/activities/{frank.name}"}
    refused = await post_activity(clipfeed.client, _inbox(clipfeed, alice), elsewhere, signer=frank)
    _refused(refused, 401, "not the signer's")
    await _assert_nothing_kept(clipfeed, alice, elsewhere, frank, peer)


async def test_an_unsigned_activity_is_refused(clipfeed: Server, peer: Peer, alice: Account) -> None:
    heidi = peer.account("heidi")
    follow = _follow(heidi, clipfeed, alice)
    refused = await clipfeed.client.post(f"{clipfeed.url}/ap/inbox", content=json.dumps(follow).encode(),
                                         headers={"Content-Type": "application/activity+json"})
    _refused(refused, 401, "not signed")
    await _assert_nothing_kept(clipfeed, alice, follow, heidi, peer)


async def test_a_body_that_is_not_an_activity_is_a_bad_request(
        clipfeed: Server, peer: Peer, alice: Account) -> None:
    ivan = peer.account("ivan")
    inbox = _inbox(clipfeed, alice)
    before = len(await queued_activities(clipfeed.services))
    for body in (b'{"type": "Follow", "actor": ', b"[]", json.dumps({"type": "Follow"}).encode()):
        refused = await clipfeed.client.post(inbox, content=body, headers=ivan.signed_headers(inbox, body))
        assert_problem(refused, 400)
    assert len(await queued_activities(clipfeed.services)) == before
    assert f"ivan@{peer.host}" not in await _followers(clipfeed, alice)


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
        clipfeed: Server, peer: Peer, alice: Account) -> None:
    judy = peer.account("judy")
    limit = clipfeed.services.settings.max_json_body_bytes
    follow = _follow(judy, clipfeed, alice) | {"padding": "x" * limit}
    inbox = _inbox(clipfeed, alice)
    declared = await post_activity(clipfeed.client, inbox, follow, signer=judy)
    _refused(declared, 413, "limited to")
    # Without a Content-Length (chunked), the body is counted as it arrives and cut off.
    body = json.dumps(follow).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start:start + 64 * 1024]

    async with httpx.AsyncClient(timeout=30) as client:
        streamed = await client.post(inbox, content=chunks(), headers=judy.signed_headers(inbox, body))
    _refused(streamed, 413, "over the limit")
    await _assert_nothing_kept(clipfeed, alice, follow, judy, peer)


async def test_a_suspended_server_is_refused_before_its_keys_are_fetched(
        clipfeed: Server, alice: Account) -> None:
    from clipfeed.accounts import service as accounts
    from clipfeed.accounts.models import Role

    admin = await clipfeed.account("inbox_admin")
    await accounts.set_role(db=clipfeed.services.db, cache=clipfeed.services.cache, handle="inbox_admin",
                            role=Role.admin)
    async with serving_peer("127.0.0.6") as banned:
        suspended = await clipfeed.client.put(f"/v1/admin/federation/servers/{banned.host}", headers=admin.auth,
                                              json={"policy": "suspend"})
        assert suspended.status_code == 200, suspended.text
        mallory = banned.account("mallory")
        follow = _follow(mallory, clipfeed, alice)
        for inbox in (_inbox(clipfeed, alice), f"{clipfeed.url}/ap/inbox"):
            refused = await post_activity(clipfeed.client, inbox, follow, signer=mallory)
            _refused(refused, 403, "does not federate")
        assert banned.fetched == []
        await _assert_nothing_kept(clipfeed, alice, follow, mallory, banned)


async def _age_stored_key(clipfeed: Server, account: PeerAccount, seconds: int) -> None:
    async with clipfeed.services.db.session() as session:
        await session.execute(sa.update(RemoteActor).where(RemoteActor.uri == account.uri).values(
            fetched_at=utcnow() - timedelta(seconds=seconds)))


async def _stored_pem(clipfeed: Server, account: PeerAccount) -> str | None:
    async with clipfeed.services.db.session() as session:
        return await session.scalar(sa.select(RemoteActor.public_pem).where(RemoteActor.uri == account.uri))


async def test_a_rotated_key_is_fetched_again_once_the_stored_one_is_a_minute_old(
        clipfeed: Server, peer: Peer, alice: Account) -> None:
    kim = peer.account("kim")
    inbox = _inbox(clipfeed, alice)
    follow = _follow(kim, clipfeed, alice)
    assert (await post_activity(clipfeed.client, inbox, follow, signer=kim)).status_code == 202

    async def following() -> bool:
        return f"kim@{peer.host}" in await _followers(clipfeed, alice)

    await wait_for(following, timeout=60)
    old_private = kim.private_pem
    kim.rotate_key()  # same key ID, new key: what Mastodon's key rotation publishes
    undo = kim.activity("Undo", follow)
    fetches = len(peer.fetched)
    # The key was fetched moments ago: a failing signature does not make us fetch it again
    # (or every forged request would cost a fetch).
    too_soon = await post_activity(clipfeed.client, inbox, undo, signer=kim)
    _refused(too_soon, 401, "does not verify")
    assert len(peer.fetched) == fetches
    async with clipfeed.services.db.session() as session:
        assert await session.get(ReceivedActivity, activity_digest(undo["id"])) is None

    await _age_stored_key(clipfeed, kim, 61)
    taken = await post_activity(clipfeed.client, inbox, undo, signer=kim)
    assert taken.status_code == 202, taken.text
    assert len(peer.fetched) == fetches + 1
    assert await _stored_pem(clipfeed, kim) == kim.public_pem

    async def unfollowed() -> bool:
        return f"kim@{peer.host}" not in await _followers(clipfeed, alice)

    await wait_for(unfollowed, timeout=60)
    # The old key signs nothing any more.
    stale = kim.activity("Follow", f"{clipfeed.url}/ap/users/{alice.id}")
    refused = await post_activity(clipfeed.client, inbox, stale,
                                  signer=PeerAccount(kim.uri, old_private, "", kim.key_name))
    _refused(refused, 401, "does not verify")
    await _assert_nothing_kept(clipfeed, alice, stale, kim, peer)


async def test_a_key_under_a_new_key_id_is_fetched_at_once(clipfeed: Server, peer: Peer, alice: Account) -> None:
    lena = peer.account("lena")
    inbox = _inbox(clipfeed, alice)
    assert (await post_activity(clipfeed.client, inbox, _follow(lena, clipfeed, alice), signer=lena)).status_code == 202
    lena.rotate_key("key-2")
    follow = _follow(lena, clipfeed, alice)
    taken = await post_activity(clipfeed.client, inbox, follow, signer=lena)
    assert taken.status_code == 202, taken.text
    async with clipfeed.services.db.session() as session:
        stored = await session.scalar(sa.select(RemoteActor).where(RemoteActor.uri == lena.uri))
    assert stored is not None and (stored.key_id, stored.public_pem) == (lena.key_id, lena.public_pem)


async def test_a_request_signed_for_another_server_is_refused(clipfeed: Server, peer: Peer, alice: Account) -> None:
    """A request captured at another server (a Clipfeed too: same paths) and replayed here."""
    nina = peer.account("nina")
    follow = _follow(nina, clipfeed, alice)
    body = json.dumps(follow).encode()
    path = f"/ap/users/{alice.id}/inbox"
    headers = nina.signed_headers(f"http://127.0.0.9:8000{path}", body)
    refused = await clipfeed.client.post(path, content=body, headers=headers)
    _refused(refused, 401, "host")
    await _assert_nothing_kept(clipfeed, alice, follow, nina, peer)
