"""Remote clips' media cached and re-packaged here (``federation_remote_media = cache``, or a
server's own setting): the clip plays from its origin at once, then from our own ladder, our
edges and our signed URLs once a media worker has fetched and processed the origin's MP4.
The origin is a real HTTP server on loopback serving real sample clips."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clipfeed.accounts import service as accounts
from clipfeed.federation import media_cache, videos
from clipfeed.federation.models import MediaMode
from clipfeed.social import follows
from clipfeed.workers import run_role
from tests.federation.http_origin import Origin, origin_server
from tests.federation.remote_fixtures import SERVER, remote_account, video_of
from tests.helpers import signup, wait_for
from tests.media.submit import SHARED, clip_row, topic_events

pytestmark = pytest.mark.settings(federation_allow_http=True, federation_remote_media="cache")


@pytest.fixture
def origin(tmp_path: Path) -> Iterator[Origin]:
    root = tmp_path / "origin"
    root.mkdir()
    shutil.copy(SHARED / "cup.mp4", root / "cup.mp4")
    shutil.copy(SHARED / "bad" / "text-renamed.mp4", root / "broken.mp4")
    (root / "page.mp4").mkdir()  # a directory: the server answers with an HTML listing
    with origin_server(root) as running:
        yield running


def with_mp4(video: dict[str, Any], url: str) -> dict[str, Any]:
    video["url"].append({"type": "Link", "mediaType": "video/mp4", "href": url, "width": 640, "height": 360})
    return video


async def followed_peer(client: Any, services: Any) -> tuple[Any, Any]:
    viewer = await signup(client, "viewer")
    peer = await remote_account(services, "maker")
    local = (await accounts.get_many(db=services.db, user_ids=[viewer.id]))[viewer.id]
    await follows.follow(services=services, follower=local, followee=peer)
    return viewer, peer


async def cache_jobs(clip_id: int, *, services: Any) -> list[Any]:
    await services.outbox.flush()
    return [e for e in await topic_events("media.uploaded", clip_id, services=services)
            if e.payload.get("source_url")]


@contextlib.asynccontextmanager
async def media_worker(services: Any) -> Any:
    stop = asyncio.Event()
    worker = asyncio.create_task(run_role("media", stop, services=services))
    try:
        yield
    finally:
        stop.set()
        await worker


async def test_a_cached_clip_plays_from_the_origin_at_once_then_from_our_own_ladder(
        client, services, origin: Origin) -> None:
    viewer, peer = await followed_peer(client, services)
    video = with_mp4(video_of("maker", 1, caption="cup on a desk"), origin.url("cup.mp4"))
    clip_id = await videos.store(video, sender=peer, services=services)
    assert clip_id is not None

    first = (await client.get(f"/v1/clips/{clip_id}", headers=viewer.auth)).json()
    assert first["media"]["mp4"] == origin.url("cup.mp4")  # streamed until the copy is made
    assert len(await cache_jobs(clip_id, services=services)) == 1

    async with media_worker(services):
        async def cached() -> bool:
            return "origin" in ((await clip_row(clip_id, services=services)).media or {})

        await wait_for(cached, timeout=240)

    clip = await clip_row(clip_id, services=services)
    assert clip.status == "ready" and clip.media["origin"]["mp4"] == origin.url("cup.mp4")
    assert await services.blobs.exists(f"clips/{clip_id}/raw/origin.mp4")  # kept as its master
    shown = (await client.get(f"/v1/clips/{clip_id}", headers=viewer.auth)).json()
    base = services.settings.base_url.rstrip("/") + "/media/"
    assert shown["media"]["hls"].startswith(base) and shown["media"]["poster"].startswith(base)
    playlist = await client.get(shown["media"]["hls"].removeprefix(services.settings.base_url.rstrip("/")))
    assert playlist.status_code == 200 and b"#EXTM3U" in playlist.content
    assert origin.asked == ["/cup.mp4"]

    # The origin edits the caption, same file: our copy stays, nothing is fetched again.
    video["content"] = "<p>a cup, edited</p>"
    assert await videos.store(video, sender=peer, services=services) == clip_id
    edited = await clip_row(clip_id, services=services)
    assert edited.caption == "a cup, edited" and edited.media["hls"] == clip.media["hls"]
    assert len(await cache_jobs(clip_id, services=services)) == 1


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_a_file_that_cannot_be_cached_keeps_streaming_and_is_not_tried_again(
        client, services, origin: Origin) -> None:
    viewer, peer = await followed_peer(client, services)
    stored = {}
    for number, name in ((1, "broken.mp4"), (2, "page.mp4"), (3, "missing.mp4")):
        clip_id = await videos.store(with_mp4(video_of("maker", number), origin.url(name)), sender=peer,
                                     services=services)
        assert clip_id is not None
        stored[clip_id] = name
    assert all([len(await cache_jobs(c, services=services)) == 1 for c in stored])

    async with media_worker(services):
        async def given_up() -> bool:
            found = [await clip_row(c, services=services) for c in stored]
            return all("cache_error" in (clip.media or {}) for clip in found)

        await wait_for(given_up, timeout=180)
    for clip_id, name in stored.items():
        shown = (await client.get(f"/v1/clips/{clip_id}", headers=viewer.auth)).json()
        assert shown["status"] == "ready" and shown["media"]["mp4"] == origin.url(name), name
        assert [info.key async for info in services.blobs.list(f"clips/{clip_id}/")] == []  # nothing kept

    # The same file again (an Update): not tried a second time.
    clip_id = next(iter(stored))
    await videos.store(with_mp4(video_of("maker", 1, caption="again"), origin.url("broken.mp4")), sender=peer,
                       services=services)
    assert len(await cache_jobs(clip_id, services=services)) == 1


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_a_servers_own_setting_wins_over_the_instances(client, services, origin: Origin) -> None:
    _, peer = await followed_peer(client, services)
    await media_cache.set_mode(SERVER, MediaMode.stream, services=services)
    streamed = await videos.store(with_mp4(video_of("maker", 1), origin.url("cup.mp4")), sender=peer,
                                  services=services)
    assert streamed is not None and await cache_jobs(streamed, services=services) == []

    await media_cache.set_mode(SERVER, None, services=services)  # back to the instance's: cache
    assert await media_cache.mode_for(SERVER, services=services) == MediaMode.cache
    hls_only = await videos.store(video_of("maker", 2), sender=peer, services=services)
    assert hls_only is not None and await cache_jobs(hls_only, services=services) == []  # nothing to fetch
