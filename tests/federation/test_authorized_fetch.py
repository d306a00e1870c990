"""Authorized fetch (``federation_authorized_fetch``): our actors, clips and comments only for
signed requests of servers we federate with; what a server needs to check a signature (the
server actor, WebFinger, NodeInfo) stays open."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clipfeed.federation import admin
from clipfeed.federation.documents import ACTIVITY_JSON
from clipfeed.federation.models import DomainPolicy
from clipfeed.federation.signatures import load_private_key, sign_request
from tests.federation.remote_peer import Peer, PeerAccount, serving_peer
from tests.federation.servers import Server, running
from tests.helpers import assert_problem

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
async def guarded(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> AsyncIterator[Server]:
    async with running("127.0.0.10", tmp_path=tmp_path_factory.mktemp("fetch"), sqlite_template=sqlite_template,
                       federation_authorized_fetch=True) as server:
        yield server


@pytest.fixture(scope="module")
async def peer() -> AsyncIterator[Peer]:
    async with serving_peer("127.0.0.11") as started:
        yield started


def _signed(url: str, by: PeerAccount) -> dict[str, str]:
    return sign_request(method="GET", url=url, body=None, key_id=by.key_id,
                        private_key=load_private_key(by.private_pem), headers={"Accept": ACTIVITY_JSON})


async def test_documents_need_a_signature_of_a_server_we_federate_with(guarded: Server, peer: Peer) -> None:
    alice = await guarded.account("alice")
    actor = f"{guarded.url}/ap/users/{alice.id}"

    unsigned = await guarded.client.get(actor, headers={"Accept": ACTIVITY_JSON})
    assert_problem(unsigned, 401)
    assert (await guarded.client.get("/@alice", headers={"Accept": ACTIVITY_JSON})).status_code == 401

    reader = peer.account("reader")
    signed = await guarded.client.get(actor, headers=_signed(actor, reader))
    assert signed.status_code == 200, signed.text
    assert signed.json()["id"] == actor

    # What a server needs to check our signatures is open.
    assert (await guarded.client.get("/ap/actor", headers={"Accept": ACTIVITY_JSON})).status_code == 200
    finger = await guarded.client.get("/.well-known/webfinger",
                                      params={"resource": f"acct:alice@{guarded.host}"})
    assert finger.status_code == 200
    assert (await guarded.client.get("/nodeinfo/2.1")).status_code == 200

    await admin.set_server_policy(peer.host, DomainPolicy.suspend, services=guarded.services)
    refused = await guarded.client.get(actor, headers=_signed(actor, reader))
    assert_problem(refused, 403)
