"""``GET /v1/feed?include=engagement``: each item carries what the feed screen shows (counts and
the viewer's own flags) in the one call, against the journeys' server."""

from __future__ import annotations

import httpx
import pytest

from tests.web.conftest import WebStack

pytestmark = pytest.mark.slow


def test_feed_items_carry_engagement_only_when_asked(web_stack: WebStack) -> None:
    with httpx.Client(base_url=web_stack.url, timeout=15) as http:
        handle = "engager"
        pair = http.post("/v1/auth/register", json={"handle": handle, "email": f"{handle}@example.com",
                                                   "password": "a long enough password"}).json()
        auth = {"Authorization": f"Bearer {pair['access_token']}"}
        liked = web_stack.clip_ids[0]
        assert http.put(f"/v1/clips/{liked}/like", headers=auth).status_code == 200
        page = http.get("/v1/feed", params={"include": "engagement", "limit": 20}, headers=auth).json()
        by_clip = {item["clip"]["id"]: item["engagement"] for item in page["items"]}
        assert liked in by_clip and by_clip[liked]["liked_by_me"] is True
        assert all(e is not None and e["clip_id"] == clip for clip, e in by_clip.items())
        assert all(e["counts"].keys() >= {"likes", "comments", "shares", "views"} for e in by_clip.values())
        plain = http.get("/v1/feed", headers={"X-Device-ID": "plainviewer01"}).json()
        assert plain["items"] and all(item["engagement"] is None for item in plain["items"])
        assert http.get("/v1/feed", params={"include": "everything"}).status_code == 422
