"""Loops, both ways: it publishes a clip as a ``Note`` with a ``video/mp4`` attachment and takes
only that shape in, so its servers (known by their NodeInfo software name) get our clips as such
a Note while everyone else gets the ``Video``; its own posts become clips here."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.core import contract
from clipfeed.core.events import Event
from clipfeed.federation import apply, outbox
from clipfeed.federation.models import Delivery, RemoteInstance
from clipfeed.social import follows
from tests.federation.remote_fixtures import remote_account
from tests.federation.test_shapes import FIXTURES
from tests.helpers import signup
from tests.social.support import ready_clip

pytestmark = pytest.mark.parametrize("stack", ["embedded"], indirect=True)


def loops_post() -> dict[str, Any]:
    document = json.loads((FIXTURES / "loops-video.json").read_text())
    document.pop("_comment")
    return dict(document)


def takes_it_like_loops(activity: dict[str, Any]) -> bool:
    """Loops' CreateValidator: a Create whose object is a Note with a Document or Video
    attachment of type video/mp4 and a string url."""
    post = activity.get("object")
    return activity.get("type") == "Create" and isinstance(post, dict) and post.get("type") == "Note" and any(
        isinstance(item, dict) and item.get("type") in ("Document", "Video") and item.get("mediaType") == "video/mp4"
        and isinstance(item.get("url"), str) for item in post.get("attachment") or [])


async def test_loops_servers_get_our_clip_as_a_note_and_the_others_as_a_video(client, services) -> None:
    creator = await signup(client, "creator")
    local = (await accounts.get_many(db=services.db, user_ids=[creator.id]))[creator.id]
    for name, server, software in (("fan", "loops.example", "loops"), ("viewer", "tube.example", "peertube")):
        account = await remote_account(services, name, server)
        async with services.db.session() as session:
            await session.execute(sa.update(RemoteInstance).where(RemoteInstance.domain == server)
                                  .values(software=software))
        await follows.follow(services=services, follower=account, followee=local)
    clip_id = await ready_clip(client, services, creator, caption="low tide\n\nshells #beach",
                               media={"mp4": "clips/{id}/mp4/fallback.mp4"})
    async with services.db.session() as session:
        from clipfeed.clips.models import Clip

        clip = await session.get(Clip, int(clip_id))
        assert clip is not None
        clip.media = {"mp4": f"clips/{clip_id}/mp4/fallback.mp4"}
    await outbox.publish_event(Event(id=services.ids.next_id(), type=contract.CLIP_READY.name, key=clip_id,
                                     actor_id=creator.id, payload={}), services=services)

    async with services.db.session() as session:
        bodies = {row.domain: json.loads(row.body) for row in (await session.scalars(sa.select(Delivery))).all()}
    assert set(bodies) == {"loops.example", "tube.example"}
    to_loops, to_tube = bodies["loops.example"], bodies["tube.example"]
    assert to_tube["object"]["type"] == "Video" and not takes_it_like_loops(to_tube)
    assert takes_it_like_loops(to_loops) and takes_it_like_loops({"type": "Create", "object": loops_post()})
    post, video = to_loops["object"], to_tube["object"]
    assert post["id"] == video["id"] and to_loops["id"] == to_tube["id"]  # one object, one activity, two shapes
    assert isinstance(post["url"], str) and post["url"].endswith(f"/share/c/{clip_id}")
    assert post["content"] == "<p>low tide</p><p>shells #beach</p>" and post["inReplyTo"] is None
    assert set(loops_post()) - {"summary", "@context"} <= set(post) and "@context" in to_loops  # all Loops sends
    assert post["attachment"][0]["url"] == video["attachment"][0]["url"]


async def test_a_loops_post_from_a_followed_account_becomes_a_clip(client, services) -> None:
    viewer = await signup(client, "viewer")
    maker = await remote_account(services, "731", "loops.example")
    local = (await accounts.get_many(db=services.db, user_ids=[viewer.id]))[viewer.id]
    await follows.follow(services=services, follower=local, followee=maker)
    post = loops_post()
    post["attributedTo"] = "https://loops.example/users/731"  # the account remote_account made
    await apply.apply({"id": f"{post['id']}/create", "type": "Create", "actor": post["attributedTo"],
                       "object": post}, sender=maker, services=services)

    shown = (await client.get(f"/v1/users/{maker.handle}/clips", headers=viewer.auth)).json()["items"]
    assert len(shown) == 1 and shown[0]["caption"] == "sunrise run along the river #running"
    assert shown[0]["media"]["mp4"] == "https://loops.example/storage/videos/731/4410/Xk3pQ.mp4"
    assert shown[0]["hashtags"] == ["running"]
    # Its replies stay comments: a Note answering the clip is not a second clip.
    reply = {"id": "https://loops.example/ap/users/731/comment/1", "type": "Note", "content": "first!",
             "attributedTo": post["attributedTo"], "inReplyTo": post["id"], "to": post["to"]}
    await apply.apply({"id": f"{reply['id']}/create", "type": "Create", "actor": post["attributedTo"],
                       "object": reply}, sender=maker, services=services)
    assert len((await client.get(f"/v1/users/{maker.handle}/clips", headers=viewer.auth)).json()["items"]) == 1
    comments = (await client.get(f"/v1/clips/{shown[0]['id']}/comments", headers=viewer.auth)).json()
    assert [c["body"] for c in comments["items"]] == ["first!"]
