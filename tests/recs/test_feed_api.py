"""The feed through the HTTP API, on the embedded and the real stack."""

from __future__ import annotations

import orjson

from clipfeed.clips import service as clips_service
from clipfeed.recs.models import FeedPage
from clipfeed.recs.render_keys import view_key
from tests.helpers import assert_problem, signup
from tests.recs.conftest import seed_catalogue


async def test_a_signed_in_viewer_pages_through_the_feed_without_repeats(client, services) -> None:
    clips = await seed_catalogue(creators=20, clips_per_creator=10, tags=["cats", "dogs", "food", "skate"],
                                 services=services)
    viewer = await signup(client, "pager")
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        response = await client.get("/v1/feed", params={"cursor": cursor} if cursor else {}, headers=viewer.auth)
        assert response.status_code == 200, response.text
        page = FeedPage.model_validate(response.json())
        assert len(page.items) == 10 and page.next_cursor
        seen += [item.clip.id for item in page.items]
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 50
    assert all(int(clip_id) in clips for clip_id in seen)
    first = response.json()["items"][0]
    assert first["clip"]["status"] == "ready" and first["source"] and first["reason"]


async def test_an_anonymous_viewer_gets_a_feed_and_a_device_cookie(client, services) -> None:
    await seed_catalogue(creators=5, clips_per_creator=6, tags=["cats", "dogs"], services=services)
    first = await client.get("/v1/feed", params={"limit": 5})
    assert first.status_code == 200 and len(first.json()["items"]) == 5
    assert "cf_device" in first.cookies
    again = await client.get("/v1/feed", params={"limit": 5})  # the client sends the cookie back
    assert not {i["clip"]["id"] for i in first.json()["items"]} & {i["clip"]["id"] for i in again.json()["items"]}
    assert_problem(await client.get("/v1/feed", params={"tab": "following"}), 401)
    assert_problem(await client.get("/v1/feed", params={"cursor": "not-a-cursor!"}), 400)


async def test_indexing_a_clip_renders_its_view_so_a_feed_page_needs_no_database_read(client, services) -> None:
    clips = await seed_catalogue(creators=3, clips_per_creator=4, tags=["cats"], services=services)
    clip = next(iter(clips.values()))
    raw = await services.cache.get(view_key(clip.id))
    assert raw is not None
    view = orjson.loads(raw)["view"]
    assert view["id"] == str(clip.id) and view["caption"] == clip.caption and view["owner_handle"].startswith("creator")
    calls = 0
    real_get_many = clips_service.get_many

    async def counting(**kwargs):
        nonlocal calls
        calls += 1
        return await real_get_many(**kwargs)

    clips_service.get_many = counting
    try:
        viewer = await signup(client, "viewsready")
        response = await client.get("/v1/feed", headers=viewer.auth)
    finally:
        clips_service.get_many = real_get_many
    assert response.status_code == 200 and len(response.json()["items"]) == 10
    assert calls == 0
