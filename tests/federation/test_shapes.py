"""The shapes other fediverse software sends and expects, against a Clipfeed server over real HTTP.

Inbound: fediverse-pasture-inputs (in the peers' venv, ``tests/federation/peers.lock``) holds the
Note variations its maintainers send to Mastodon, Misskey and others to chart what each accepts;
its ``ActivitySender`` wraps each in the ``Create`` it would post, and bovine's activity factories
(the pasture's own sender) make the Follow, Like, Announce, Delete and Undo around them. They are
built in that venv, handed over as JSON, signed by an account of a small remote server
(``remote_peer``) and posted to a real inbox; Clipfeed must do the right thing or refuse cleanly,
never answer 500 and never fail in the federation worker.

Outbound: our actor, ``Video``, WebFinger and NodeInfo documents against what the big
implementations read (fixtures under ``fixtures/``, each naming its source)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from clipfeed.core import contract
from clipfeed.federation.models import RemoteObject
from clipfeed.stream.catchup import wait_for_catch_up
from tests.federation.peers import PEERS_PYTHON
from tests.federation.remote_peer import Peer, PeerAccount, post_activity, serving_peer
from tests.federation.servers import Server, running
from tests.helpers import Account, wait_for
from tests.social.support import ready_clip

pytestmark = pytest.mark.timeout(240)
FIXTURES = Path(__file__).parent / "fixtures"
PASTURE_NOTE = "http://pasture-one-actor/assets/note1.jsonap"  # what the inputs reply to; our clip here

SHAPES = """
import asyncio, json, sys
from unittest.mock import AsyncMock, MagicMock

from bovine.activitystreams import factories_for_actor_object
from fediverse_pasture.runner import ActivitySender
from fediverse_pasture.runner.util import create_make_id_for_actor_id
from fediverse_pasture_inputs import available

task = json.load(sys.stdin)
actor, target, clip = task["actor"], task["target"], task["clip"]


def sender():
    # The pasture's sender, with the network left out: it builds what it would post.
    described = MagicMock(id=actor["id"])
    described.build = MagicMock(return_value=actor)
    network = AsyncMock()
    network.get = AsyncMock(return_value={"inbox": target + "/inbox"})
    made = ActivitySender.for_actor(network, described)
    made.sleep_after_getting_inbox = False
    return made


async def create(example):
    made = sender()
    made.init_create_note(lambda note: {**note, "content": "text", "inReplyTo": clip, **example})
    await made.send(target)
    return made.activity


async def main():
    pasture = []
    for name, inputs in sorted(available.items()):
        for number, example in enumerate(inputs.examples):
            pasture.append({"source": f"{name}#{number}", "activity": await create(example)})
    activities, _ = factories_for_actor_object(actor)
    make_id = create_make_id_for_actor_id(actor["id"])
    follow = activities.follow(target, id=make_id(activity=True)).build()
    like = activities.like(clip, id=make_id(activity=True)).build()
    reply = await create({"content": "a <b>fine</b> view"})
    return {"pasture": pasture, "bovine": {
        "follow": follow, "like": like,
        "announce": activities.announce(clip, id=make_id(activity=True)).as_public().build(),
        "reply": reply,
        "delete": activities.delete(reply["object"]["id"], id=make_id(activity=True)).build(),
        "undo_follow": activities.undo(follow, id=make_id(activity=True)).build(),
        "undo_like": activities.undo(like, id=make_id(activity=True)).build()}}


print(json.dumps(asyncio.run(main())))
"""


async def _shapes(account: PeerAccount, *, target: str, clip: str, cwd: Path) -> dict[str, Any]:
    assert PEERS_PYTHON.exists(), f"{PEERS_PYTHON} is missing: run make install"
    task = json.dumps({"actor": account.document() | {"followers": f"{account.uri}/followers"}, "target": target,
                       "clip": clip}).encode()
    # Run outside any source tree: bovine's own "types" package would shadow the standard library's.
    made = await asyncio.create_subprocess_exec(str(PEERS_PYTHON), "-c", SHAPES, cwd=cwd,
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(made.communicate(task), 120)
    assert made.returncode == 0, err.decode()
    return json.loads(out)


@pytest.fixture(scope="module")
async def clipfeed(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                   sqlite_template: Path) -> AsyncIterator[Server]:
    async with running("127.0.0.7", stack="embedded", tmp_path=tmp_path_factory.mktemp("shapes"), request=request,
                       sqlite_template=sqlite_template) as server:
        yield server


@pytest.fixture(scope="module")
async def peer() -> AsyncIterator[Peer]:
    async with serving_peer("127.0.0.8") as started:
        yield started


@pytest.fixture(scope="module")
async def alice(clipfeed: Server) -> Account:
    return await clipfeed.account("alice")


@pytest.fixture(scope="module")
async def clip_uri(clipfeed: Server, alice: Account) -> str:
    clip_id = await ready_clip(clipfeed.client, clipfeed.services, alice, caption="sunset over the bay #beach")
    return f"{clipfeed.url}/ap/clips/{clip_id}"


def _worker_outcomes() -> dict[str, float]:
    """How the federation worker's records ended, so far, in this process."""
    return {outcome: REGISTRY.get_sample_value("clipfeed_processor_records_total", {
        "group": contract.FEDERATION_IN, "topic": contract.Topic.FEDERATION_INBOX, "outcome": outcome}) or 0.0
        for outcome in ("ok", "retried", "dead_lettered", "outage")}


async def _worker_done(clipfeed: Server) -> None:
    await wait_for_catch_up(services=clipfeed.services, groups=[(contract.FEDERATION_IN, contract.Topic.FEDERATION_INBOX)],
                            timeout=90)


async def _comments(clipfeed: Server, clip_uri: str) -> list[dict[str, Any]]:
    clip_id = clip_uri.rsplit("/", 1)[-1]
    page = await clipfeed.client.get(f"/v1/clips/{clip_id}/comments", params={"limit": 100})
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


async def _stored_comments(clipfeed: Server) -> dict[str, int]:
    """Remote Note URI -> the comment it became."""
    async with clipfeed.services.db.session() as session:
        rows = (await session.execute(sa.select(RemoteObject.uri, RemoteObject.local_id).where(
            RemoteObject.kind == "comment"))).all()
    return {uri: local_id for uri, local_id in rows}


async def _counts(clipfeed: Server, clip_uri: str) -> dict[str, int]:
    clip_id = clip_uri.rsplit("/", 1)[-1]
    return dict((await clipfeed.client.get(f"/v1/clips/{clip_id}/engagement")).json()["counts"])


async def test_bovines_follow_like_announce_reply_and_delete_take_effect(
        clipfeed: Server, peer: Peer, alice: Account, clip_uri: str, tmp_path: Path) -> None:
    bob = peer.account("bob")
    inbox = f"{clipfeed.url}/ap/users/{alice.id}/inbox"
    shapes = (await _shapes(bob, target=f"{clipfeed.url}/ap/users/{alice.id}", clip=clip_uri, cwd=tmp_path))["bovine"]
    before = _worker_outcomes()

    async def post(name: str) -> None:
        answer = await post_activity(clipfeed.client, inbox, shapes[name], signer=bob)
        assert answer.status_code == 202, f"{name}: {answer.status_code} {answer.text}"

    await post("follow")

    async def accepted() -> bool:
        return any(sent["type"] == "Accept" and sent["object"]["id"] == shapes["follow"]["id"]
                   for sent in peer.delivered)

    await wait_for(accepted, timeout=60)
    followers = (await clipfeed.client.get("/v1/users/alice/followers")).json()["items"]
    assert [entry["user"]["handle"] for entry in followers] == [f"bob@{peer.host}"]

    for name in ("like", "announce", "reply"):
        await post(name)

    async def counted() -> bool:
        return {"likes": 1, "shares": 1, "comments": 1}.items() <= (await _counts(clipfeed, clip_uri)).items()

    await wait_for(counted, timeout=60)
    comments = await _comments(clipfeed, clip_uri)
    assert [(comment["author"]["handle"], comment["body"]) for comment in comments] == [
        (f"bob@{peer.host}", "a fine view")]

    await post("delete")
    await _worker_done(clipfeed)
    assert await _comments(clipfeed, clip_uri) == []
    after = _worker_outcomes()
    assert after["ok"] - before["ok"] == 5
    assert (after["retried"], after["dead_lettered"]) == (before["retried"], before["dead_lettered"])


async def test_every_note_the_pasture_sends_is_kept_as_a_comment_or_refused_cleanly(
        clipfeed: Server, peer: Peer, alice: Account, clip_uri: str, tmp_path: Path) -> None:
    carol = peer.account("carol")
    shapes = (await _shapes(carol, target=f"{clipfeed.url}/ap/users/{alice.id}", clip=clip_uri,
                            cwd=tmp_path))["pasture"]
    assert len(shapes) > 200  # every group of inputs, not an empty list
    before = _worker_outcomes()
    answers: dict[str, int] = {}
    for shape in shapes:
        activity = json.loads(json.dumps(shape["activity"]).replace(PASTURE_NOTE, clip_uri))
        shape["activity"] = activity
        answers[shape["source"]] = (await post_activity(clipfeed.client, f"{clipfeed.url}/ap/inbox", activity,
                                                        signer=carol)).status_code
    assert {source: status for source, status in answers.items() if status != 202} == {}
    await _worker_done(clipfeed)
    after = _worker_outcomes()
    assert after["ok"] - before["ok"] == len(shapes)
    assert (after["retried"], after["dead_lettered"]) == (before["retried"], before["dead_lettered"])

    # A Note (with an ID of its sender's server) that answers our clip is a comment; nothing else is.
    def answers_the_clip(note: Any) -> bool:
        parent = note.get("inReplyTo") if isinstance(note, dict) else None
        parent = parent.get("id") if isinstance(parent, dict) else parent
        return note.get("type") == "Note" and isinstance(note.get("id"), str) and parent == clip_uri

    expected = {shape["activity"]["object"]["id"]: shape["source"] for shape in shapes
                if answers_the_clip(shape["activity"]["object"])}
    stored = await _stored_comments(clipfeed)
    assert {expected[uri] for uri in set(expected) - set(stored)} == set()
    notes = {shape["activity"]["object"].get("id"): shape["source"] for shape in shapes}
    assert sorted(notes.get(uri, uri) for uri in set(stored) - set(expected)) == []

    bodies = {notes[uri]: comment["body"] for comment in await _comments_by_id(clipfeed, clip_uri)
              for uri, local_id in stored.items() if str(local_id) == comment["id"] and uri in notes}
    assert bodies["necessary_properties#0"] == "All fields"
    assert bodies["html_tags#20"] == "line\nbreak"  # <br/>
    assert bodies["html_tags#21"] == "paragraph"
    assert bodies["html_anchor#0"] == "funfedi"
    assert not any("<" in body for source, body in bodies.items() if not source.startswith(("html_tags#26", "html_bad")))


async def _comments_by_id(clipfeed: Server, clip_uri: str) -> list[dict[str, Any]]:
    clip_id = clip_uri.rsplit("/", 1)[-1]
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = (await clipfeed.client.get(f"/v1/clips/{clip_id}/comments", params=params)).json()
        found += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return found
