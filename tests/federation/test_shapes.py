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
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from clipfeed.cluster.engines import free_port
from clipfeed.core import contract
from clipfeed.federation.models import RemoteActor, RemoteObject
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
target, clip = task["target"], task["clip"]
# Near-copies of html_tags with another type or in the summary: a sample of them is enough.
SAMPLED = {"html_tags_article": 5, "html_tags_summary": 5}


def sender(actor):
    # The pasture's sender, with the network left out: it builds what it would post.
    described = MagicMock(id=actor["id"])
    described.build = MagicMock(return_value=actor)
    network = AsyncMock()
    network.get = AsyncMock(return_value={"inbox": target + "/inbox"})
    made = ActivitySender.for_actor(network, described)
    made.sleep_after_getting_inbox = False
    return made


async def create(actor, example):
    made = sender(actor)
    # As the pasture's ExampleTransformer does, with our clip as what each Note answers.
    made.init_create_note(lambda note: {**note, "inReplyTo": clip, **example})
    await made.send(target)
    return made.activity


async def shapes(actor):
    pasture = []
    for name, inputs in sorted(available.items()):
        for number, example in enumerate(inputs.examples):
            if number % SAMPLED.get(name, 1) == 0:
                pasture.append({"source": f"{name}#{number}", "activity": await create(actor, example)})
    activities, _ = factories_for_actor_object(actor)
    make_id = create_make_id_for_actor_id(actor["id"])
    follow = activities.follow(target, id=make_id(activity=True)).build()
    like = activities.like(clip, id=make_id(activity=True)).build()
    reply = await create(actor, {"content": "a <b>fine</b> view"})
    return {"pasture": pasture, "bovine": {
        "follow": follow, "like": like,
        "announce": activities.announce(clip, id=make_id(activity=True)).as_public().build(),
        "reply": reply,
        "delete": activities.delete(reply["object"]["id"], id=make_id(activity=True)).build(),
        "undo_follow": activities.undo(follow, id=make_id(activity=True)).build(),
        "undo_like": activities.undo(like, id=make_id(activity=True)).build()}}


async def main():
    return {actor["id"]: await shapes(actor) for actor in task["actors"]}


print(json.dumps(asyncio.run(main())))
"""


async def _shapes(accounts: list[PeerAccount], *, target: str, clip: str, cwd: Path) -> dict[str, Any]:
    """What the pasture and bovine would send as each of ``accounts``, by actor URI."""
    assert PEERS_PYTHON.exists(), f"{PEERS_PYTHON} is missing: run make install"
    task = json.dumps({"actors": [account.document() for account in accounts], "target": target,
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
    async with running("127.0.0.7", tmp_path=tmp_path_factory.mktemp("shapes"),
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


@pytest.fixture(scope="module")
async def shapes(clipfeed: Server, peer: Peer, alice: Account, clip_uri: str,
                 tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The pasture's and bovine's activities, by the name of the peer's account that sends them."""
    names = ("bob", "carol", "dave", "erin")
    made = await _shapes([peer.account(name) for name in names], target=f"{clipfeed.url}/ap/users/{alice.id}",
                         clip=clip_uri, cwd=tmp_path_factory.mktemp("pasture"))
    return {name: made[peer.account(name).uri] for name in names}


def _worker_outcomes() -> dict[str, float]:
    """How the federation worker's records ended, so far, in this process."""
    return {outcome: REGISTRY.get_sample_value("clipfeed_processor_records_total", {
        "group": contract.FEDERATION_IN, "topic": contract.Topic.FEDERATION_INBOX, "outcome": outcome}) or 0.0
        for outcome in ("ok", "retried", "dead_lettered", "outage")}


async def _worker_done(clipfeed: Server) -> None:
    groups = [(contract.FEDERATION_IN, contract.Topic.FEDERATION_INBOX)]
    await wait_for_catch_up(services=clipfeed.services, groups=groups, timeout=90)


async def _comments(clipfeed: Server, clip_uri: str) -> list[dict[str, Any]]:
    clip_id = clip_uri.rsplit("/", 1)[-1]
    page = await clipfeed.client.get(f"/v1/clips/{clip_id}/comments", params={"limit": 100})
    assert page.status_code == 200, page.text
    return list(page.json()["items"])


async def _stored_comments(clipfeed: Server, author: PeerAccount) -> dict[str, int]:
    """The remote Notes of ``author`` that became comments: URI -> comment ID."""
    async with clipfeed.services.db.session() as session:
        rows = (await session.execute(sa.select(RemoteObject.uri, RemoteObject.local_id).join(
            RemoteActor, RemoteActor.user_id == RemoteObject.actor_id).where(
            RemoteObject.kind == "comment", RemoteActor.uri == author.uri))).all()
    return {uri: local_id for uri, local_id in rows}


async def _counts(clipfeed: Server, clip_uri: str) -> dict[str, int]:
    clip_id = clip_uri.rsplit("/", 1)[-1]
    return dict((await clipfeed.client.get(f"/v1/clips/{clip_id}/engagement")).json()["counts"])


async def test_bovines_follow_like_announce_reply_and_delete_take_effect(
        clipfeed: Server, peer: Peer, alice: Account, clip_uri: str, shapes: dict[str, dict[str, Any]]) -> None:
    bob = peer.account("bob")
    inbox = f"{clipfeed.url}/ap/users/{alice.id}/inbox"
    sent = shapes["bob"]["bovine"]
    before = _worker_outcomes()

    async def post(name: str) -> None:
        answer = await post_activity(clipfeed.client, inbox, sent[name], signer=bob)
        assert answer.status_code == 202, f"{name}: {answer.status_code} {answer.text}"

    await post("follow")

    async def accepted() -> bool:
        return any(got["type"] == "Accept" and got["object"]["id"] == sent["follow"]["id"] for got in peer.delivered)

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
        clipfeed: Server, peer: Peer, clip_uri: str, shapes: dict[str, dict[str, Any]]) -> None:
    carol = peer.account("carol")
    notes_sent = shapes["carol"]["pasture"]
    assert len({shape["source"].split("#")[0] for shape in notes_sent}) >= 20  # every group of inputs
    before = _worker_outcomes()
    answers: dict[str, int] = {}
    for shape in notes_sent:
        activity = json.loads(json.dumps(shape["activity"]).replace(PASTURE_NOTE, clip_uri))
        shape["activity"] = activity
        answers[shape["source"]] = (await post_activity(clipfeed.client, f"{clipfeed.url}/ap/inbox", activity,
                                                        signer=carol)).status_code
    assert {source: status for source, status in answers.items() if status != 202} == {}
    await _worker_done(clipfeed)
    after = _worker_outcomes()
    assert after["ok"] - before["ok"] == len(notes_sent)
    assert (after["retried"], after["dead_lettered"]) == (before["retried"], before["dead_lettered"])

    # A Note (with an ID of its sender's server) that answers our clip is a comment; nothing else is.
    def answers_the_clip(note: Any) -> bool:
        parent = note.get("inReplyTo") if isinstance(note, dict) else None
        parent = parent.get("id") if isinstance(parent, dict) else parent
        return note.get("type") == "Note" and isinstance(note.get("id"), str) and parent == clip_uri

    expected = {shape["activity"]["object"]["id"]: shape["source"] for shape in notes_sent
                if answers_the_clip(shape["activity"]["object"])}
    stored = await _stored_comments(clipfeed, carol)
    assert {expected[uri] for uri in set(expected) - set(stored)} == set()
    notes = {shape["activity"]["object"].get("id"): shape["source"] for shape in notes_sent}
    assert sorted(notes.get(uri, uri) for uri in set(stored) - set(expected)) == []

    bodies = {notes[uri]: comment["body"] for comment in await _comments_by_id(clipfeed, clip_uri)
              for uri, local_id in stored.items() if str(local_id) == comment["id"] and uri in notes}
    assert bodies["necessary_properties#0"] == "All fields"
    assert bodies["html_tags#20"] == "line\nbreak"  # <br/>
    assert bodies["html_tags#21"] == "paragraph"
    assert bodies["html_anchor#0"] == "funfedi"
    assert bodies["html_tags#26"] == "alert('hi');"  # the script's text, as text: no markup is kept
    assert [source for source, body in bodies.items() if "<" in body] == []


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


def _note(author: PeerAccount, clip_uri: str, **fields: Any) -> dict[str, Any]:
    """A reply to ``clip_uri`` the way Mastodon and Misskey wrap one: a Create of a Note."""
    note_id = f"{author.uri}/notes/{uuid.uuid4().hex}"
    note = {"id": note_id, "type": "Note", "attributedTo": author.uri, "inReplyTo": clip_uri, "published":
            "2025-06-02T05:41:18Z", "to": ["https://www.w3.org/ns/activitystreams#Public"], **fields}
    return author.activity("Create", note, to=note["to"])


async def test_an_undo_naming_the_follow_by_its_id_unfollows(
        clipfeed: Server, peer: Peer, alice: Account, shapes: dict[str, dict[str, Any]]) -> None:
    dave = peer.account("dave")
    sent = shapes["dave"]["bovine"]
    inbox = f"{clipfeed.url}/ap/users/{alice.id}/inbox"
    assert (await post_activity(clipfeed.client, inbox, sent["follow"], signer=dave)).status_code == 202
    await _worker_done(clipfeed)
    handles = [entry["user"]["handle"] for entry in (await clipfeed.client.get("/v1/users/alice/followers")).json()[
        "items"]]
    assert f"dave@{peer.host}" in handles
    assert sent["undo_follow"]["object"] == sent["follow"]["id"]  # bovine names what it undoes by its ID
    assert (await post_activity(clipfeed.client, inbox, sent["undo_follow"], signer=dave)).status_code == 202
    await _worker_done(clipfeed)
    handles = [entry["user"]["handle"] for entry in (await clipfeed.client.get("/v1/users/alice/followers")).json()[
        "items"]]
    assert f"dave@{peer.host}" not in handles


async def test_a_note_with_only_a_content_map_keeps_its_text(
        clipfeed: Server, peer: Peer, clip_uri: str, shapes: dict[str, dict[str, Any]]) -> None:
    erin = peer.account("erin")
    sent = next(shape["activity"] for shape in shapes["erin"]["pasture"] if shape["source"] == "language#5")
    assert "content" not in sent["object"] and sent["object"]["contentMap"] == {"de": "Deutsch"}
    assert (await post_activity(clipfeed.client, f"{clipfeed.url}/ap/inbox", sent, signer=erin)).status_code == 202
    await _worker_done(clipfeed)
    stored = await _stored_comments(clipfeed, erin)
    bodies = [comment["body"] for comment in await _comments_by_id(clipfeed, clip_uri)
              if comment["id"] == str(stored.get(sent["object"]["id"]))]
    assert bodies == ["Deutsch"]


# Last of the inbound tests: the worker retries what these break, which would count against the others.
@pytest.mark.parametrize("content", [
    "<p>" + "a long answer, as Misskey (3,000 characters) and Pleroma (5,000) allow. " * 30 + "</p>",
    "<p>nice \u202eweiv</p>",  # a right-to-left override: what our own comments refuse
], ids=["long", "direction-control"])
async def test_a_note_our_comments_could_not_hold_is_cut_or_refused_without_failing_the_worker(
        clipfeed: Server, peer: Peer, clip_uri: str, content: str) -> None:
    erin = peer.account("erin")
    create = _note(erin, clip_uri, content=content)
    before = _worker_outcomes()
    assert (await post_activity(clipfeed.client, f"{clipfeed.url}/ap/inbox", create, signer=erin)).status_code == 202
    await _worker_done(clipfeed)
    after = _worker_outcomes()
    assert (after["retried"], after["dead_lettered"]) == (before["retried"], before["dead_lettered"])


# --- what we publish ----------------------------------------------------------------------

ISO_DURATION = re.compile(r"^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


def _fixture(name: str) -> dict[str, Any]:
    document = json.loads((FIXTURES / name).read_text())
    document.pop("_comment")
    return dict(document)


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


def _is_datetime(value: Any) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None
    except ValueError:
        return False


def _video_problems(video: dict[str, Any]) -> list[str]:
    """What a PeerTube-shaped ``Video`` lacks of what PeerTube and Mastodon read from one."""
    problems = []
    checks: dict[str, Any] = {
        "id": _is_url, "type": lambda value: value == "Video", "name": lambda value: isinstance(value, str) and value,
        "content": lambda value: isinstance(value, str), "duration": lambda value: isinstance(
            value, str) and ISO_DURATION.match(value), "published": _is_datetime,
        "sensitive": lambda value: isinstance(value, bool),
        "to": lambda value: isinstance(value, list) and all(isinstance(item, str) for item in value),
        "cc": lambda value: isinstance(value, list) and all(isinstance(item, str) for item in value),
        # A URI, or (PeerTube) a list of the account and its channel as objects with an id.
        "attributedTo": lambda value: _is_url(value) or (isinstance(value, list) and value and all(
            _is_url(item) or (isinstance(item, dict) and _is_url(item.get("id"))) for item in value)),
        "url": lambda value: isinstance(value, list) and value and all(
            isinstance(link, dict) and link.get("type") == "Link" and isinstance(link.get("mediaType"), str)
            and _is_url(link.get("href")) for link in value),
        "icon": lambda value: isinstance(value, list) and value and all(
            isinstance(image, dict) and image.get("type") == "Image" and _is_url(image.get("url"))
            and isinstance(image.get("mediaType"), str) for image in value),
        "tag": lambda value: isinstance(value, list) and value and all(
            isinstance(tag, dict) and tag.get("type") == "Hashtag" and isinstance(tag.get("name"), str)
            for tag in value),
    }
    for key, check in checks.items():
        if key not in video:
            problems.append(f"no {key}")
        elif not check(video[key]):
            problems.append(f"{key} is {video[key]!r}")
    links = {link.get("mediaType") for link in video.get("url") or [] if isinstance(link, dict)}
    if "text/html" not in links:
        problems.append("no text/html link (the page Mastodon links to)")
    if not links & {"video/mp4", "application/x-mpegURL"}:
        problems.append("no video/mp4 or HLS link")
    if not (AS_PUBLIC in video.get("to", []) or AS_PUBLIC in video.get("cc", [])):
        problems.append("not addressed to the public")
    return problems


@pytest.fixture(scope="module")
async def published_clip(clipfeed: Server, alice: Account) -> int:
    """A clip as the media pipeline leaves it: renditions, a poster, its duration and size."""
    from clipfeed.clips.models import Clip

    clip_id = int(await ready_clip(clipfeed.client, clipfeed.services, alice, caption="low tide\n\nshells #beach #sea",
                                   media={"hls": "clips/{id}/hls/master.m3u8", "mp4": "clips/{id}/mp4/fallback.mp4",
                                          "poster_jpg": "clips/{id}/poster_720.jpg"}))
    async with clipfeed.services.db.session() as session:
        clip = await session.get(Clip, clip_id)
        assert clip is not None
        clip.media = {key: value.format(id=clip_id) for key, value in (clip.media or {}).items()}
        clip.duration_ms, clip.width, clip.height = 14_600, 720, 1280
    return clip_id


async def _activity_json(clipfeed: Server, path: str) -> dict[str, Any]:
    fetched = await clipfeed.client.get(path, headers={"Accept": "application/activity+json"})
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"].startswith("application/activity+json")
    return dict(fetched.json())


def test_the_fixtures_have_what_peertube_and_mastodon_read() -> None:
    """The checker below is no stricter than PeerTube itself."""
    assert _video_problems(_fixture("peertube-video.json")) == []


async def test_our_video_has_what_a_peertube_video_has(clipfeed: Server, published_clip: int) -> None:
    video = await _activity_json(clipfeed, f"/ap/clips/{published_clip}")
    assert _video_problems(video) == []
    assert video["duration"] == "PT15S"
    assert {link["mediaType"] for link in video["url"]} == {"text/html", "video/mp4", "application/x-mpegURL"}
    assert sorted(tag["name"] for tag in video["tag"]) == ["#beach", "#sea"]
    assert video["name"] == "low tide" and video["content"].startswith("low tide")
    peertube = _fixture("peertube-video.json")
    assert set(peertube) - set(video) - PEERTUBE_ONLY == set()


# PeerTube's own vocabulary (its player, its channels, its counters): nothing another server needs.
PEERTUBE_ONLY = {"uuid", "category", "licence", "language", "views", "waitTranscoding", "state", "commentsEnabled",
                 "downloadEnabled", "originallyPublishedAt", "support", "subtitleLanguage", "likes", "dislikes",
                 "shares", "comments", "mediaType"}


async def test_our_video_has_what_a_loops_post_has(clipfeed: Server, published_clip: int) -> None:
    video = await _activity_json(clipfeed, f"/ap/clips/{published_clip}")
    loops = _fixture("loops-video.json")
    shared = {"@context", "id", "content", "attributedTo", "url", "sensitive", "published", "to", "cc", "tag"}
    assert shared <= set(loops) and shared <= set(video)
    for key in ("id", "attributedTo"):
        assert _is_url(video[key]) and _is_url(loops[key])
    for key in ("to", "cc", "tag"):
        assert type(video[key]) is type(loops[key]) is list
    assert type(video["sensitive"]) is type(loops["sensitive"]) is bool
    assert _is_datetime(video["published"]) and _is_datetime(loops["published"])
    assert {tag["type"] for tag in video["tag"]} == {tag["type"] for tag in loops["tag"]} == {"Hashtag"}
    assert all(tag["name"].startswith("#") for tag in video["tag"] + loops["tag"])


def _playable(document: dict[str, Any]) -> bool:
    return any(isinstance(item, dict) and item.get("type") in ("Document", "Video")
               and item.get("mediaType") == "video/mp4" and _is_url(item.get("url"))
               for item in document.get("attachment") or [])


async def test_mastodon_would_show_our_clip_as_a_video(clipfeed: Server, published_clip: int) -> None:
    # Mastodon turns `attachment` entries into media and shows any other Video as "<h2>name</h2> link".
    video = await _activity_json(clipfeed, f"/ap/clips/{published_clip}")
    assert _playable(video)


async def test_our_actor_has_what_mastodon_reads(clipfeed: Server, alice: Account) -> None:
    actor = await _activity_json(clipfeed, f"/ap/users/{alice.id}")
    assert actor == await _activity_json(clipfeed, "/@alice")
    uri = f"{clipfeed.url}/ap/users/{alice.id}"
    assert (actor["id"], actor["type"], actor["preferredUsername"]) == (uri, "Person", "alice")
    assert "https://www.w3.org/ns/activitystreams" in actor["@context"]
    for key in ("inbox", "outbox", "followers", "following", "featured", "url"):
        assert _is_url(actor[key]), key
    assert _is_url(actor["endpoints"]["sharedInbox"])
    assert isinstance(actor["name"], str) and isinstance(actor["summary"], str)
    assert isinstance(actor["manuallyApprovesFollowers"], bool) and isinstance(actor["discoverable"], bool)
    assert _is_datetime(actor["published"])
    key = actor["publicKey"]
    assert (key["id"], key["owner"]) == (f"{uri}#main-key", uri)
    assert key["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    for collection in ("outbox", "followers", "following", "featured"):
        listed = await _activity_json(clipfeed, actor[collection].removeprefix(clipfeed.url))
        assert listed["type"] == "OrderedCollection" and isinstance(listed["totalItems"], int), collection


async def test_nodeinfo_follows_the_2_1_schema(clipfeed: Server) -> None:
    links = (await clipfeed.client.get("/.well-known/nodeinfo")).json()["links"]
    assert [link["rel"] for link in links] == ["http://nodeinfo.diaspora.software/ns/schema/2.1"]
    document = await clipfeed.client.get(links[0]["href"])
    assert document.status_code == 200
    assert document.headers["content-type"].startswith("application/json")
    schema = json.loads((FIXTURES / "nodeinfo-2.1.schema.json").read_text())
    jsonschema.validate(document.json(), schema)
    assert document.json()["software"]["name"] == "clipfeed"
    assert document.json()["usage"]["users"]["total"] >= 1


BOVINE_LOOKUP = """
import asyncio, json, sys
import aiohttp
from bovine.clients import lookup_uri_with_webfinger
from bovine.crypto.types import CryptographicIdentifier

task = json.load(sys.stdin)


async def main():
    async with aiohttp.ClientSession() as session:
        found, _ = await lookup_uri_with_webfinger(session, task["account"], task["base"])
        async with session.get(found, headers={"accept": "application/activity+json"}) as response:
            actor = await response.json(content_type=None)
    key = actor["publicKey"]
    identifier = CryptographicIdentifier.from_pem(key["publicKeyPem"], key["owner"])
    return {"found": found, "id": actor["id"], "controller": identifier.controller}


print(json.dumps(asyncio.run(main())))
"""


async def test_bovine_finds_our_account_through_webfinger_and_reads_its_key(
        clipfeed: Server, alice: Account, tmp_path: Path) -> None:
    made = await asyncio.create_subprocess_exec(str(PEERS_PYTHON), "-c", BOVINE_LOOKUP, cwd=tmp_path,
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    task = {"account": f"acct:alice@{clipfeed.host}", "base": clipfeed.url}
    out, err = await asyncio.wait_for(made.communicate(json.dumps(task).encode()), 60)
    assert made.returncode == 0, err.decode()
    uri = f"{clipfeed.url}/ap/users/{alice.id}"
    assert json.loads(out) == {"found": uri, "id": uri, "controller": uri}
    webfinger = await clipfeed.client.get("/.well-known/webfinger", params={"resource": f"acct:alice@{clipfeed.host}"})
    assert webfinger.headers["content-type"].startswith("application/jrd+json")
    assert webfinger.json()["subject"] == f"acct:alice@{clipfeed.host}"


# --- bovine-herd, a fediverse server, following one of ours -----------------------------

HERD = """
import asyncio, json, sys

import hypercorn.asyncio
import hypercorn.config
from quart import Quart
from tortoise import Tortoise

from bovine import BovineClient
from bovine.crypto import generate_ed25519_private_key, private_key_to_did_key
from bovine_herd import BovineHerd
from bovine_store import BovineAdminStore
from bovine_store.config import tortoise_config

task = json.loads(sys.stdin.readline())
base, db_url = task["base"], task["db_url"]


async def register():
    # bovine-herd's own account management (bovine_store), on its tortoise-orm SQLite database.
    await Tortoise.init(config=tortoise_config(db_url))
    await Tortoise.generate_schemas()
    store = BovineAdminStore(domain=base)
    name = await store.register("moocow")
    secret = generate_ed25519_private_key()
    await store.add_identity_string_to_actor(name, "client", private_key_to_did_key(secret))
    await Tortoise.close_connections()
    return secret


def say(message):
    print(json.dumps(message), flush=True)


async def main():
    secret = await register()
    app = Quart("herd")
    BovineHerd(app, db_url=db_url)
    config = hypercorn.config.Config()
    config.bind = [base.removeprefix("http://")]
    stop = asyncio.Event()
    serving = asyncio.create_task(hypercorn.asyncio.serve(app, config, shutdown_trigger=stop.wait))
    host, port = config.bind[0].split(":")
    for _ in range(300):  # until it listens
        try:
            writer = (await asyncio.open_connection(host, int(port)))[1]
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    # moocow's client (ActivityPub client-to-server, Moo-Auth-1), as its owner's app would be.
    async with BovineClient(domain=base, secret=secret) as client:
        say({"actor": client.actor_id})
        while line := await reader.readline():
            command = json.loads(line)
            if "follow" in command:
                follow = client.activity_factory.follow(command["follow"]).build()
                response = await client.send_to_outbox(follow)
                say({"status": response.status})
            elif "inbox" in command:
                say({"inbox": [item async for item in client.inbox()]})
    stop.set()
    await serving


asyncio.run(main())
"""


class Herd:
    """A bovine-herd server in the peers' venv, and its account moocow's client, by stdin/stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        return await self.answer()

    async def answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        assert line, (await self.process.stderr.read()).decode() if self.process.stderr else "the herd stopped"
        return dict(json.loads(line))


async def test_a_bovine_herd_account_follows_ours_and_gets_her_clips(
        clipfeed: Server, alice: Account, tmp_path: Path) -> None:
    base = f"http://127.0.0.9:{free_port()}"
    process = await asyncio.create_subprocess_exec(
        str(PEERS_PYTHON), "-c", HERD, cwd=tmp_path, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    herd = Herd(process)
    try:
        assert process.stdin is not None
        process.stdin.write(json.dumps({"base": base, "db_url": f"sqlite://{tmp_path}/herd.sqlite3"}).encode() + b"\n")
        moocow = (await herd.answer())["actor"]
        assert moocow.startswith(base)
        followed = await herd.ask({"follow": f"{clipfeed.url}/ap/users/{alice.id}"})
        assert followed["status"] == 201, followed

        async def following() -> bool:
            page = (await clipfeed.client.get("/v1/users/alice/followers")).json()["items"]
            return f"moocow@127.0.0.9:{base.rsplit(':', 1)[1]}" in [entry["user"]["handle"] for entry in page]

        await wait_for(following, timeout=60)
        clip_id = await ready_clip(clipfeed.client, clipfeed.services, alice, caption="for the herd #cows")

        async def arrived() -> bool:
            inbox = (await herd.ask({"inbox": True}))["inbox"]
            return any(isinstance(item, dict) and item.get("type") == "Create"
                       and (item.get("object") or {}).get("id") == f"{clipfeed.url}/ap/clips/{clip_id}"
                       for item in inbox)

        await wait_for(arrived, timeout=60)
    finally:
        if process.returncode is None:
            if process.stdin is not None:
                process.stdin.close()  # the herd's client loop ends, and its server with it
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
