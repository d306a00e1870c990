"""Shares: the public share page with link-preview tags, and recorded shares (in-app too)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from tests.helpers import assert_problem, signup
from tests.social.support import ready_clip, social_events

MEDIA = {"poster": "clips/{id}/poster.jpg", "mp4": "clips/{id}/mp4/fallback.mp4", "hls": "clips/{id}/hls/master.m3u8"}


class Meta(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, str] = {}
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "meta" and (found.get("property") or found.get("name")):
            self.tags[str(found.get("property") or found.get("name"))] = str(found.get("content"))
        self.scripts += tag == "script"


def _meta(html: str) -> Meta:
    parsed = Meta()
    parsed.feed(html)
    return parsed


async def test_the_share_page_previews_the_poster_and_escapes_what_users_wrote(client, services) -> None:
    alice = await signup(client, "alice")
    caption = 'Sunset "over" <script>alert(1)</script> & the sea #travel'
    clip = await ready_clip(client, services, alice, caption=caption)
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=int(clip),
                                   status=ClipStatus.ready,
                                   media={k: v.format(id=clip) for k, v in MEDIA.items()})
    page = await client.get(f"/share/c/{clip}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text
    meta = _meta(page.text)
    assert meta.scripts == 0
    base = services.settings.base_url
    assert meta.tags["og:image"].startswith(f"{base}/media/clips/{clip}/poster.jpg?v=")  # versioned: edits show
    assert meta.tags["og:video"] == f"{base}/media/clips/{clip}/mp4/fallback.mp4"
    assert meta.tags["og:video:type"] == "video/mp4"
    assert meta.tags["og:title"] == "@alice on Clipfeed"
    assert meta.tags["og:description"] == caption  # unescaped again by the parser: the text round-trips
    assert meta.tags["og:url"] == f"{base}/share/c/{clip}"
    assert meta.tags["twitter:card"] == "player" and meta.tags["twitter:image"] == meta.tags["og:image"]
    assert meta.tags["twitter:player"] == f"{base}/share/c/{clip}/embed"
    assert "robots" not in meta.tags
    assert "default-src 'none'" in page.headers["content-security-policy"]
    embed = await client.get(f"/share/c/{clip}/embed")
    assert embed.status_code == 200 and re.search(r"<video[^>]+fallback\.mp4", embed.text)


async def test_unlisted_clips_have_a_page_kept_out_of_search_and_others_have_none(client, services) -> None:
    alice = await signup(client, "alice")
    unlisted = await ready_clip(client, services, alice, visibility="unlisted")
    poster = f"clips/{unlisted}/poster.jpg"
    await services.blobs.put(poster, b"\xff\xd8\xff\xe0 a poster")
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=int(unlisted),
                                   status=ClipStatus.ready, media={"poster": poster})
    meta = _meta((await client.get(f"/share/c/{unlisted}")).text)
    assert meta.tags["robots"] == "noindex" and meta.tags["twitter:card"] == "summary_large_image"
    assert "og:video" not in meta.tags
    # The preview image of an unlisted clip is a signed URL that a crawler (no account) can load.
    image = meta.tags["og:image"].removeprefix(services.settings.base_url)
    assert image != f"/media/{poster}" and (await client.get(image)).content == b"\xff\xd8\xff\xe0 a poster"
    assert (await client.get(f"/media/{poster}")).status_code in (403, 404)
    private = await ready_clip(client, services, alice, visibility="private")
    draft = (await client.post("/v1/clips", headers=alice.auth, json={"caption": "wip"})).json()["id"]
    for missing in (private, draft, "999999999", "not-a-clip"):
        page = await client.get(f"/share/c/{missing}", headers=alice.auth)  # even for the owner: public pages only
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "og:image" not in page.text and "wip" not in page.text


async def test_shares_are_recorded_and_in_app_shares_need_a_recipient_who_can_see(client, services) -> None:
    alice, bob, carol = await signup(client, "alice"), await signup(client, "bob"), await signup(client, "carol")
    clip = await ready_clip(client, services, alice)
    link = await client.post(f"/v1/clips/{clip}/shares", headers=bob.auth, json={"channel": "whatsapp"})
    assert link.status_code == 201, link.text
    assert link.json()["share_url"].endswith(f"/share/c/{clip}") and link.json()["share_count_estimate"] >= 1
    direct = await client.post(f"/v1/clips/{clip}/shares", headers=bob.auth, json={"channel": "user",
                                                                                     "to_user": "@carol"})
    assert direct.status_code == 201 and direct.json()["to_user_id"] == str(carol.id)
    assert_problem(await client.post(f"/v1/clips/{clip}/shares", headers=bob.auth, json={"channel": "user"}), 422)
    assert_problem(await client.post(f"/v1/clips/{clip}/shares", headers=bob.auth,
                                     json={"channel": "link", "to_user": "carol"}), 422)
    assert_problem(await client.post(f"/v1/clips/{clip}/shares", headers=bob.auth,
                                     json={"channel": "user", "to_user": "bob"}), 400)
    await client.put("/v1/users/bob/block", headers=carol.auth)
    assert_problem(await client.post(f"/v1/clips/{clip}/shares", headers=bob.auth,
                                     json={"channel": "user", "to_user": "carol"}), 403)
    private = await ready_clip(client, services, alice, visibility="private")
    assert_problem(await client.post(f"/v1/clips/{private}/shares", headers=alice.auth,
                                     json={"channel": "user", "to_user": "carol"}), 422)
    assert_problem(await client.post(f"/v1/clips/{private}/shares", headers=bob.auth, json={"channel": "link"}), 404)
    shared = await social_events("share.created", services=services)
    assert [(e.payload["channel"], e.payload["to_user_id"]) for e in shared] == [("whatsapp", None),
                                                                                 ("user", str(carol.id))]
    assert all(e.key == clip and e.payload["creator_id"] == str(alice.id) for e in shared)
