"""``GET /v1/trending`` and ``GET /v1/hashtags/trending``: live public clips only, by region."""

from __future__ import annotations

import time

import pytest

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from clipfeed.stream.catchup import wait_for_catch_up
from tests.helpers import assert_problem, signup
from tests.stream.pipeline import event, make_clip, running_role, send


async def test_trending_lists_live_public_clips_by_velocity_and_region(client, services) -> None:
    dave = await signup(client, "dave")
    viewers = [await signup(client, f"viewer{i}") for i in range(3)]
    hot = await make_clip(client, services, dave, "hot #summer #beach")
    warm = await make_clip(client, services, dave, "warm #summer")
    hidden = await make_clip(client, services, dave, "private #summer", visibility="private")
    gone = await make_clip(client, services, dave, "soon deleted #beach")
    now = time.time()
    async with running_role(services=services):
        for i, viewer in enumerate(viewers):
            batch = [event("play_start", hot, now), event("complete", hot, now + 1, duration_ms=5000),
                     event("play_start", hidden, now), event("share", hidden, now),
                     event("play_start", gone, now), event("share", gone, now)]
            if i == 0:
                batch.append(event("play_start", warm, now))
            region = {"X-Viewer-Region": "eu"} if i < 2 else {}
            await send(client, batch, {**viewer.auth, **region})
        services.settings.events_region_header = "X-Viewer-Region"
        await send(client, [event("play_start", warm, now)], {**viewers[1].auth, "X-Viewer-Region": "eu"})
        await wait_for_catch_up(services=services, timeout=60)
        await clips_service.delete(db=services.db, blobs=services.blobs, outbox=services.outbox, clip_id=gone,
                                   user_id=dave.id)
        await wait_for_catch_up(services=services, timeout=60)
    body = (await client.get("/v1/trending", params={"limit": 10})).json()
    assert [item["clip"]["id"] for item in body["items"]] == [str(hot), str(warm)]
    assert body["items"][0]["score"] > body["items"][1]["score"] > 0
    assert body["items"][0]["clip"]["owner_handle"] == "dave"
    eu = (await client.get("/v1/trending", params={"region": "EU"})).json()
    assert eu["region"] == "eu" and [item["clip"]["id"] for item in eu["items"]] == [str(warm)]
    tags = (await client.get("/v1/hashtags/trending")).json()["items"]
    # Hashtags gather the engagement of clips live when it happened (the private clip's 18 is
    # left out; the deleted one was public then): beach 6 + 18, summer 6 + 2.
    assert [t["tag"] for t in tags] == ["beach", "summer"]
    assert tags[0]["score"] / tags[1]["score"] == pytest.approx(24 / 8, rel=0.01)
    assert_problem(await client.get("/v1/trending", params={"region": "../etc"}), 422)
    assert_problem(await client.get("/v1/trending", params={"limit": 0}), 422)
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=hot, status=ClipStatus.rejected)
    after = (await client.get("/v1/trending")).json()
    assert str(hot) not in [item["clip"]["id"] for item in after["items"]]
