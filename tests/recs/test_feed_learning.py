"""Onboarding interests, the Following tab, and the loop from impressions to a trained model."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from clipfeed.accounts import service as accounts
from clipfeed.recs import registry, training
from clipfeed.recs.buffer import buffer_key
from clipfeed.recs.viewers import FeedViewer
from clipfeed.social import follows
from tests.helpers import assert_problem, signup
from tests.recs.conftest import seed_catalogue

TAGS = ["cats", "dogs", "food", "skate", "music"]


async def test_onboarding_interests_shape_a_new_viewers_first_page(client, services) -> None:
    await seed_catalogue(creators=25, clips_per_creator=20, tags=TAGS, services=services)
    viewer = await signup(client, "skater")
    assert_problem(await client.put("/v1/feed/interests", json={"hashtags": ["skate"]}), 401)
    assert_problem(await client.put("/v1/feed/interests", json={"hashtags": ["no spaces"]}, headers=viewer.auth), 422)
    saved = await client.put("/v1/feed/interests", json={"hashtags": ["#Skate"]}, headers=viewer.auth)
    assert saved.json() == {"hashtags": ["skate"]}
    assert (await client.get("/v1/feed/interests", headers=viewer.auth)).json() == {"hashtags": ["skate"]}
    page = (await client.get("/v1/feed", headers=viewer.auth)).json()
    skate = [i for i in page["items"] if "skate" in i["clip"]["hashtags"]]
    assert len(skate) >= 4  # against 2 in 10 for a catalogue spread evenly over five hashtags


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_the_following_tab_lists_followed_creators_newest_first(client, services) -> None:
    clips = await seed_catalogue(creators=3, clips_per_creator=8, tags=TAGS, services=services)
    viewer = await signup(client, "fan")
    creator = next(iter(clips.values())).owner_id
    users = await accounts.get_many(db=services.db, user_ids=[viewer.id, creator])
    await follows.follow(services=services, follower=users[viewer.id], followee=users[creator])
    first = (await client.get("/v1/feed", params={"tab": "following", "limit": 5}, headers=viewer.auth)).json()
    second = (await client.get("/v1/feed", params={"tab": "following", "limit": 5, "cursor": first["next_cursor"]},
                               headers=viewer.auth)).json()
    shown = [i["clip"] for i in first["items"] + second["items"]]
    assert len(shown) == 8 and {int(c["owner_id"]) for c in shown} == {creator}
    published = [c["published_at"] for c in shown]
    assert published == sorted(published, reverse=True) and second["next_cursor"] is None


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_impressions_and_feedback_train_a_model_the_feed_then_serves(client, services, feed_workers) -> None:
    await seed_catalogue(creators=20, clips_per_creator=15, tags=TAGS, services=services)
    now = int(time.time() * 1000)
    for n in range(12):
        device = f"device-{n}"
        page = (await client.get("/v1/feed", params={"limit": 25}, headers={"X-Device-ID": device})).json()
        events = []
        for item in page["items"]:
            liked = ("cats" if n % 2 else "dogs") in item["clip"]["hashtags"]
            events.append({"event_id": uuid.uuid4().hex, "clip_id": item["clip"]["id"], "ts": now, "session_id": "s",
                           **({"type": "complete", "watch_ms": 15_000} if liked else
                              {"type": "skip", "position_ms": 900, "watch_ms": 900})})
        response = await client.post("/v1/events", json={"events": events}, headers={"X-Device-ID": device})
        assert response.status_code in (200, 202), response.text
    await asyncio.sleep(3.0)  # the stream worker attaches the labels
    assert await training.close_impressions(older_than=0, services=services) == 300
    report = await training.train(min_rows=100, services=services)
    assert report["rows"] == 300 and report["promoted"] and report["retrieval"]
    index = await registry.read_index(services.blobs)
    assert index["current"] == report["model"] and index["models"][report["model"]]["metrics"]["rows"] == 300
    await registry.loaded_models(services.blobs, 30).refresh(services.blobs, force=True)
    await services.cache.delete(buffer_key(FeedViewer.anonymous("device-0").key))  # next page: built now
    page = (await client.get("/v1/feed", headers={"X-Device-ID": "device-0"})).json()
    assert page["model"] == report["model"] and len(page["items"]) == 10
