"""Playback info: edge URLs, signatures, start rendition by network, prefetch list; clip
responses and the placement job that pre-warms edges."""

from __future__ import annotations

import httpx
import pytest

from clipfeed.core.errors import NotFound
from clipfeed.delivery import placement
from clipfeed.delivery.playback import playback_info
from tests.delivery import ladder

pytestmark = pytest.mark.slow


async def test_public_clip_plays_from_its_edge_with_a_start_rendition_for_the_network(
        delivery_stack, stack_services, creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    starts = {}
    for network in ("2g", "3g", "4g", "wifi", None):
        info = await playback_info(services=stack_services, clip=clip, viewer_id=None, region="local",
                                   network=network)
        starts[network] = info.start_rendition
    assert starts == {"2g": "240", "3g": "360", "4g": "720", "wifi": "720", None: "360"}
    assert info.media_base_url == delivery_stack.edge and not info.signed
    assert info.hls_url == f"{delivery_stack.edge}/media/clips/{clip.id}/hls/master.m3u8"
    assert info.dash_url and info.mp4_url and info.sprite_vtt_url and info.poster_jpeg_url
    assert info.poster_url and "?v=" in info.poster_url
    assert [r.name for r in info.renditions] == ["240", "360", "720"]
    assert info.prefetch_urls == [info.poster_url, f"{delivery_stack.edge}/media/clips/{clip.id}/v/360/index.m3u8",
                                  f"{delivery_stack.edge}/media/clips/{clip.id}/v/360/init.mp4",
                                  f"{delivery_stack.edge}/media/clips/{clip.id}/v/360/seg_00000.m4s"]
    async with httpx.AsyncClient(timeout=10) as http:
        for url in [info.hls_url, info.dash_url, info.mp4_url, info.sprite_vtt_url, *info.prefetch_urls]:
            assert (await http.get(url)).status_code == 200, url


async def test_unlisted_clips_get_signed_urls_that_work_through_the_edge(delivery_stack, stack_services,
                                                                         creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, visibility="unlisted", services=stack_services)
    info = await playback_info(services=stack_services, clip=clip, viewer_id=None, region=None, network="4g")
    assert info.signed and info.expires_at is not None and "/media/s/" in (info.hls_url or "")
    async with httpx.AsyncClient(timeout=10) as http:
        master = await http.get(info.hls_url)
        assert master.status_code == 200
        variant = next(line for line in master.text.splitlines() if line.endswith(".m3u8"))
        media = await http.get(str(httpx.URL(info.hls_url).join(variant)))  # as a player resolves it
        assert media.status_code == 200
        segment = next(line for line in media.text.splitlines() if line.endswith(".m4s"))
        assert (await http.get(str(media.url.join(segment)))).status_code == 200


async def test_private_clips_are_signed_for_their_owner_only(delivery_stack, stack_services, creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, visibility="private", services=stack_services)
    with pytest.raises(NotFound):
        await playback_info(services=stack_services, clip=clip, viewer_id=creator.id + 1, region=None, network=None)
    mine = await playback_info(services=stack_services, clip=clip, viewer_id=creator.id, region=None, network=None)
    async with httpx.AsyncClient(timeout=10) as http:
        assert mine.signed and (await http.get(mine.hls_url)).status_code == 200


async def test_clip_responses_carry_edge_urls_and_playback_hints(delivery_stack, stack_services, creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    async with httpx.AsyncClient(base_url=delivery_stack.origin, timeout=10) as http:
        body = (await http.get(f"/v1/clips/{clip.id}")).json()
        assert body["media"]["hls"] == f"{delivery_stack.edge}/media/clips/{clip.id}/hls/master.m3u8"
        assert body["media"]["start_playlist"].endswith("/v/360/index.m3u8")
        assert "master" not in body["media"] and not any("/raw/" in url for url in body["media"].values())
        listed = (await http.get("/v1/users/maker/clips")).json()["items"]
        assert any(item["media"].get("hls", "").startswith(delivery_stack.edge) for item in listed)
        hints = (await http.get(f"/v1/clips/{clip.id}/playback", params={"network": "2g"})).json()
        assert hints["start_rendition"] == "240" and hints["start_playlist_url"].endswith("/v/240/index.m3u8")


async def test_placement_warms_the_home_edge_with_first_segments_and_posters(delivery_stack, stack_services,
                                                                            creator, monkeypatch) -> None:
    clips = [await ladder.publish(owner_id=creator.id, services=stack_services) for _ in range(2)]

    async def trending(*, services, region, limit):
        return [c.id for c in clips]  # stands in for the stream worker's per-region ranking

    monkeypatch.setattr(placement.popularity, "top_clip_ids", trending)
    async with httpx.AsyncClient(timeout=10) as http:
        report = await placement.place_region(services=stack_services, region="local", client=http)
        assert report.clips == 2 and report.failures == 0
        # 1 master + 3 x (playlist, init, 2 segments) + poster
        assert report.requests == 2 * (1 + 3 * 4 + 1)
        for clip in clips:
            info = await playback_info(services=stack_services, clip=clip, viewer_id=None, region="local",
                                       network="4g")
            for url in [info.hls_url, info.poster_url, *info.prefetch_urls, info.start_playlist_url.replace(
                    "/720/index.m3u8", "/720/seg_00001.m4s")]:
                answer = await http.get(url)
                assert answer.headers["x-cache-status"] == "HIT", url
        again = await placement.place_region(services=stack_services, region="local", client=http)
        assert again.clips == 0  # already warm


async def test_placement_warms_a_separate_sound_track_as_it_warms_the_video(delivery_stack, stack_services,
                                                                           creator, monkeypatch) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services, folder=ladder.ladder_with_audio())

    async def trending(*, services, region, limit):
        return [clip.id]

    monkeypatch.setattr(placement.popularity, "top_clip_ids", trending)
    keys = await placement.warm_keys(services=stack_services, clip_id=clip.id)
    sound = [key for key in keys if f"clips/{clip.id}/a/" in key]
    assert sound == [f"clips/{clip.id}/a/index.m3u8", f"clips/{clip.id}/a/init.mp4",
                     f"clips/{clip.id}/a/seg_00000.m4s", f"clips/{clip.id}/a/seg_00001.m4s"]
    async with httpx.AsyncClient(timeout=10) as http:
        report = await placement.place_region(services=stack_services, region="local", client=http)
        assert report.clips == 1 and report.failures == 0
        # 1 master + 4 x (playlist, init, 2 segments): three video renditions and the sound + poster
        assert report.requests == 1 + 4 * 4 + 1
        # the first viewer's player finds the sound track's start at the edge already
        info = await playback_info(services=stack_services, clip=clip, viewer_id=None, region="local", network="4g")
        edge = info.hls_url.split("/media/", 1)[0]
        for key in sound:
            answer = await http.get(f"{edge}/media/{key}")
            assert answer.status_code == 200 and answer.headers["x-cache-status"] == "HIT", key
