"""Followed hashtags in the feeds (their own tab, a For You source) and mute filters applied to
For You, Following, the Hashtags tab and comments."""

from __future__ import annotations

from datetime import UTC, datetime

from clipfeed.clips.models import Clip
from clipfeed.recs.indexing import index_clips
from tests.accounts.test_accounts_api import _image
from tests.helpers import assert_problem, signup
from tests.recs.conftest import seed_catalogue
from tests.search.support import reindex


def hashtags_of(page: dict) -> list[list[str]]:
    return [item["clip"]["hashtags"] for item in page["items"]]


async def test_a_followed_hashtag_has_its_own_tab_newest_first_and_joins_for_you(client, services) -> None:
    clips = await seed_catalogue(creators=6, clips_per_creator=6, tags=["cats", "dogs", "food", "skate"],
                                 services=services)
    await reindex(services=services)  # hashtag follows need the tag in the search index
    viewer = await signup(client, "tag_follower")
    assert (await client.get("/v1/feed", params={"tab": "hashtags"}, headers=viewer.auth)).json()["items"] == []

    assert (await client.put("/v1/hashtags/skate/follow", headers=viewer.auth)).status_code == 200
    skate = sorted((c for c in clips.values() if c.hashtags == ["skate"]), key=lambda c: c.published_at, reverse=True)
    seen: list[str] = []
    cursor = None
    while True:
        page = await client.get("/v1/feed", params={"tab": "hashtags", "limit": 4, **({"cursor": cursor} if cursor
                                                                                       else {})}, headers=viewer.auth)
        assert page.status_code == 200, page.text
        body = page.json()
        assert all(tags == ["skate"] for tags in hashtags_of(body)) and body["served_by"] == "chronological"
        seen += [item["clip"]["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [str(c.id) for c in skate]  # every clip of the tag, newest first, once

    # For You: following the tag is history (no cold start), and the tag's clips are candidates.
    for_you = (await client.get("/v1/feed", params={"limit": 20}, headers=viewer.auth)).json()
    assert for_you["served_by"] != "cold_start"
    assert any(item["source"] == "hashtags" for item in for_you["items"]), [i["source"] for i in for_you["items"]]
    assert_problem(await client.get("/v1/feed", params={"tab": "hashtags"}), 401)


async def test_muted_words_and_hashtags_leave_for_you_following_and_the_hashtags_tab(client, services) -> None:
    clips = await seed_catalogue(creators=3, clips_per_creator=8, tags=["cats", "dogs"], services=services)
    await reindex(services=services)
    viewer = await signup(client, "calm_viewer")
    creator = next(iter(clips.values())).owner_id
    assert (await client.put(f"/v1/users/{creator}/follow", headers=viewer.auth)).status_code in (200, 201, 204)
    assert (await client.put("/v1/hashtags/cats/follow", headers=viewer.auth)).status_code == 200
    for kind, value in (("hashtag", "#Dogs"), ("word", "Clip 3")):
        added = await client.post("/v1/me/filters", headers=viewer.auth, json={"kind": kind, "value": value})
        assert added.status_code == 201, added.text

    def allowed(item: dict) -> bool:
        return "dogs" not in item["clip"]["hashtags"] and not item["clip"]["caption"].startswith("clip 3 ")

    for_you = (await client.get("/v1/feed", params={"limit": 50}, headers=viewer.auth)).json()["items"]
    assert for_you and all(allowed(item) for item in for_you)
    following = (await client.get("/v1/feed", params={"tab": "following", "limit": 50}, headers=viewer.auth)).json()
    assert following["items"] and all(allowed(item) for item in following["items"])
    assert all(item["clip"]["owner_id"] == str(creator) for item in following["items"])
    tagged = (await client.get("/v1/feed", params={"tab": "hashtags", "limit": 50}, headers=viewer.auth)).json()
    assert tagged["items"] and all(allowed(item) for item in tagged["items"])

    # Unmuting takes effect on the next page (the cached filters are dropped).
    assert (await client.delete("/v1/me/filters/hashtag/dogs", headers=viewer.auth)).status_code == 204
    following = (await client.get("/v1/feed", params={"tab": "following", "limit": 50}, headers=viewer.auth)).json()
    assert any("dogs" in item["clip"]["hashtags"] for item in following["items"])


async def test_comments_matching_a_mute_filter_come_marked_filtered(client, services) -> None:
    clips = await seed_catalogue(creators=1, clips_per_creator=1, tags=["cats"], services=services)
    clip_id = next(iter(clips))
    writer = await signup(client, "chatty")
    reader = await signup(client, "reader")
    for body in ("The ending was a SPÓILER, sorry", "lovely cat", "my own spoiler"):
        author = reader if body.startswith("my own") else writer
        posted = await client.post(f"/v1/clips/{clip_id}/comments", headers=author.auth, json={"body": body})
        assert posted.status_code == 201, posted.text
    await client.post("/v1/me/filters", headers=reader.auth, json={"kind": "word", "value": "spoiler"})
    listed = (await client.get(f"/v1/clips/{clip_id}/comments", params={"sort": "new"}, headers=reader.auth)).json()
    filtered = {c["body"]: c["filtered"] for c in listed["items"]}
    # the reader's own comment is never folded away
    assert filtered == {"The ending was a SPÓILER, sorry": True, "lovely cat": False, "my own spoiler": False}
    others = (await client.get(f"/v1/clips/{clip_id}/comments", headers=writer.auth)).json()
    assert not any(c["filtered"] for c in others["items"])


async def test_feed_items_carry_the_creators_avatar_as_an_absolute_url(client, services) -> None:
    creator = await signup(client, "pictured")
    put = await client.put("/v1/me/avatar", content=_image("PNG"),
                           headers={**creator.auth, "content-type": "image/png"})
    assert put.status_code == 200, put.text
    plain = await seed_catalogue(creators=1, clips_per_creator=1, tags=["cats"], services=services)
    now = datetime.now(UTC)
    clip = Clip(id=services.ids.next_id(), owner_id=creator.id, caption="me #cats", hashtags=["cats"],
                visibility="public", status="ready", media={}, duration_ms=15_000, published_at=now, created_at=now)
    async with services.db.session() as session:
        session.add(clip)
    await index_clips([clip], services=services)
    viewer = await signup(client, "avatar_viewer")
    items = (await client.get("/v1/feed", params={"limit": 10}, headers=viewer.auth)).json()["items"]
    avatars = {item["clip"]["id"]: item["clip"]["owner_avatar_url"] for item in items}
    assert avatars[str(clip.id)] == services.settings.base_url + put.json()["avatar_url"]
    assert avatars[str(next(iter(plain)))] is None  # a creator without a picture
