"""The API while Redis is down (real stack, a throwaway Redis that is killed): the cache's
breaker opens, signed-in requests are checked against the database, the For You feed is made
from the database (``served_by: degraded``), sign-in answers 503 with Retry-After (its rate
limit cannot be counted), ``/readyz`` names the open breaker, and the ranked feed is back once
Redis is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from clipfeed.infra.breaker import BREAKERS
from tests import services as engines
from tests.conftest import stack_settings
from tests.helpers import PASSWORD, signup
from tests.social.support import ready_clip


@pytest.fixture
def throwaway_redis() -> Iterator[engines.ThrowawayRedis]:
    with engines.throwaway_redis() as server:
        yield server


@pytest.fixture
async def outage_client(
    tmp_path, request: pytest.FixtureRequest, sqlite_template, throwaway_redis: engines.ThrowawayRedis
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    from clipfeed.api import create_app
    from clipfeed.bootstrap import bootstrap

    settings = stack_settings(
        "real", tmp_path, request, cache_url=f"{throwaway_redis.url}/0", breaker_failures=3, breaker_open_s=0.3
    )
    services = await bootstrap(settings)
    app = create_app(services=services)
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http,
        ):
            yield http, services
    finally:
        await services.close()


async def test_with_redis_down_the_feed_comes_from_the_database_and_the_ranked_feed_returns_with_redis(
    outage_client: tuple[httpx.AsyncClient, Any], throwaway_redis: engines.ThrowawayRedis
) -> None:
    client, services = outage_client
    viewer, creator, blocked = [await signup(client, name) for name in ("viewer", "creator", "blocked")]
    shown = await ready_clip(client, services, creator, "still here")
    master = f"clips/{shown}/hls/master.m3u8"
    await services.blobs.put(
        master, b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p/index.m3u8\n"
    )
    await services.blobs.put(
        f"clips/{shown}/hls/360p/index.m3u8",
        b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg0.m4s\n#EXT-X-ENDLIST\n",
    )
    await clips_service.set_status(
        db=services.db, outbox=services.outbox, clip_id=int(shown), status=ClipStatus.ready, media={"hls": master}
    )
    await ready_clip(client, services, blocked, "never shown")
    await ready_clip(client, services, creator, "private", visibility="private")
    assert (await client.put(f"/v1/users/{blocked.id}/block", headers=viewer.auth)).status_code == 200
    assert (await client.get("/v1/feed", headers=viewer.auth)).status_code == 200
    breaker = BREAKERS.get("redis", f"{throwaway_redis.url}/0")
    throwaway_redis.stop()

    pages = [await client.get("/v1/feed", headers=viewer.auth) for _ in range(4)]
    assert breaker.state == "open"  # later pages did not even try Redis
    for page in pages:
        assert page.status_code == 200, page.text
        assert page.json()["served_by"] == "degraded"
        assert [item["clip"]["id"] for item in page.json()["items"]] == [shown]
    playback = await client.get(f"/v1/clips/{shown}/playback", headers=viewer.auth)
    assert playback.status_code == 200, playback.text
    assert playback.json()["start_rendition"] == "360p"  # its layout read from the playlists
    assert pages[-1].json()["items"][0]["playback"]["start_rendition"] == "360p"
    anonymous = await client.get("/v1/feed", headers={"X-Device-ID": "device-1"})
    assert anonymous.status_code == 200 and anonymous.json()["served_by"] == "degraded"
    assert (await client.get("/v1/me", headers=viewer.auth)).status_code == 200
    # Playback events and likes are still taken: the cache only held hints for the next page.
    event = {"event_id": "e-outage-1", "type": "complete", "clip_id": shown, "ts": int(time.time() * 1000),
             "session_id": "s1", "device": "web", "network": "wifi", "watch_ms": 9000, "duration_ms": 9000}
    ingested = await client.post("/v1/events", json={"events": [event]}, headers=viewer.auth)
    assert ingested.status_code == 200 and ingested.json()["accepted"] == 1, ingested.text
    liked = await client.put(f"/v1/clips/{shown}/like", headers=viewer.auth)
    assert liked.status_code == 200 and liked.json()["liked"], liked.text
    counts = await client.get(f"/v1/clips/{shown}/engagement", headers=viewer.auth)  # from the database
    assert counts.status_code == 200 and counts.json()["liked_by_me"], counts.text

    login = await client.post("/v1/auth/login", json={"login": "viewer", "password": PASSWORD})
    assert login.status_code == 503 and int(login.headers["Retry-After"]) >= 1
    assert login.headers["content-type"].startswith("application/problem+json")
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert [(b["engine"], b["endpoint"], b["state"]) for b in ready.json()["breakers"]] == [
        ("redis", f"{throwaway_redis.url}/0", "open")
    ]

    throwaway_redis.start()  # empty, as after a lost Redis: sessions live in the database
    for _ in range(100):
        page = await client.get("/v1/feed", headers=viewer.auth)
        if page.json().get("served_by") != "degraded":
            break
        await asyncio.sleep(0.05)  # the breaker's open interval (0.3 s) has to pass first
    assert page.status_code == 200 and page.json()["served_by"] != "degraded", page.text
    assert breaker.state == "closed"
    assert "breakers" not in (await client.get("/readyz")).json()
