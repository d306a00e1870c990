"""The media origin, over real HTTP: types, lifetimes, ranges, conditional requests, CORS,
visibility and signatures, takedowns."""

from __future__ import annotations

import time

import pytest

from clipfeed.clips import service as clips
from clipfeed.clips.models import ClipStatus
from clipfeed.delivery.signing import Signer, clip_scope
from tests.delivery import ladder
from tests.delivery.conftest import fetch

pytestmark = pytest.mark.slow


async def test_origin_serves_each_kind_with_its_type_and_lifetime(delivery_stack, stack_services, creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    base = f"{delivery_stack.origin}/media/clips/{clip.id}/"
    cases = {
        "hls/master.m3u8": ("application/vnd.apple.mpegurl", "max-age=10, s-maxage=600"),
        "v/360/index.m3u8": ("application/vnd.apple.mpegurl", "max-age=10"),
        "v/360/init.mp4": ("video/mp4", "immutable"),
        "v/360/seg_00000.m4s": ("video/iso.segment", "max-age=31536000, s-maxage=31536000"),
        "dash/manifest.mpd": ("application/dash+xml", "s-maxage=600"),
        "img/poster_360.webp": ("image/webp", "max-age=300, s-maxage=600"),  # a new clip: short
        "img/poster_360.jpg": ("image/jpeg", "max-age=300"),
        "img/sprite.vtt": ("text/vtt", "max-age=300"),
        "mp4/fallback.mp4": ("video/mp4", "s-maxage=2592000"),
    }
    for key, (content_type, lifetime) in cases.items():
        response = await fetch(base + key)
        assert response.status_code == 200, key
        assert response.headers["content-type"].startswith(content_type), key
        assert lifetime in response.headers["cache-control"], (key, response.headers["cache-control"])
        assert response.content == (ladder.ladder() / key).read_bytes(), key
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["etag"] and response.headers["last-modified"]


async def test_raw_masters_and_unknown_objects_are_never_served(delivery_stack, stack_services, creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    await stack_services.blobs.put(f"clips/{clip.id}/work/state.json", b"{}")
    for key in ("raw/master.mp4", "work/state.json", "hls/../raw/master.mp4", "img/none.webp"):
        response = await fetch(f"{delivery_stack.origin}/media/clips/{clip.id}/{key}")
        assert response.status_code == 404, key
        assert "Traceback" not in response.text


async def test_single_ranges_get_206_and_odd_ones_get_the_whole_object_or_416(delivery_stack, stack_services,
                                                                              creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    url = f"{delivery_stack.origin}/media/clips/{clip.id}/mp4/fallback.mp4"
    whole = (ladder.ladder() / "mp4/fallback.mp4").read_bytes()
    part = await fetch(url, Range="bytes=100-199")
    assert part.status_code == 206 and part.content == whole[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    tail = await fetch(url, Range="bytes=-50")
    assert tail.status_code == 206 and tail.content == whole[-50:]
    several = await fetch(url, Range="bytes=0-9,20-29")
    assert several.status_code == 200 and several.content == whole
    past = await fetch(url, Range=f"bytes={len(whole) + 10}-")
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(whole)}"
    stale = await fetch(url, Range="bytes=0-9", **{"If-Range": '"not-the-etag"'})
    assert stale.status_code == 200 and stale.content == whole


async def test_conditional_requests_answer_304(delivery_stack, stack_services, creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    url = f"{delivery_stack.origin}/media/clips/{clip.id}/v/240/seg_00001.m4s"
    first = await fetch(url)
    by_etag = await fetch(url, **{"If-None-Match": first.headers["etag"]})
    assert by_etag.status_code == 304 and by_etag.content == b""
    assert by_etag.headers["etag"] == first.headers["etag"] and "immutable" in by_etag.headers["cache-control"]
    by_date = await fetch(url, **{"If-Modified-Since": first.headers["last-modified"]})
    assert by_date.status_code == 304
    changed = await fetch(url, **{"If-None-Match": '"something-else"'})
    assert changed.status_code == 200


async def test_unlisted_and_private_clips_need_a_valid_signed_url(delivery_stack, stack_services, creator) -> None:
    signer = Signer.from_settings(stack_services.settings)
    for visibility in ("unlisted", "private"):
        clip = await ladder.publish(owner_id=creator.id, visibility=visibility, services=stack_services)
        key = f"clips/{clip.id}/hls/master.m3u8"
        assert (await fetch(f"{delivery_stack.origin}/media/{key}")).status_code == 404
        token = signer.token(clip_scope(clip.id), int(time.time()) + 60)
        signed = await fetch(f"{delivery_stack.origin}/media/{token}/{key}")
        assert signed.status_code == 200 and signed.content.startswith(b"#EXTM3U")
        # Relative URLs in the playlist resolve under the same token, so segments work too.
        segment = await fetch(f"{delivery_stack.origin}/media/{token}/clips/{clip.id}/v/240/seg_00000.m4s")
        assert segment.status_code == 200
        assert ("private" in signed.headers["cache-control"]) == (visibility == "private")
        expired = signer.token(clip_scope(clip.id), int(time.time()) - 1)
        assert (await fetch(f"{delivery_stack.origin}/media/{expired}/{key}")).status_code == 410
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert (await fetch(f"{delivery_stack.origin}/media/{tampered}/{key}")).status_code == 403
        other = await ladder.publish(owner_id=creator.id, visibility=visibility, services=stack_services)
        borrowed = await fetch(f"{delivery_stack.origin}/media/{token}/clips/{other.id}/hls/master.m3u8")
        assert borrowed.status_code == 403  # a token opens one clip only


async def test_only_the_canonical_expiry_verifies(delivery_stack, stack_services, creator) -> None:
    # nginx hashes the expiry as written: "0<expires>" must fail at the origin as at the edge.
    clip = await ladder.publish(owner_id=creator.id, visibility="unlisted", services=stack_services)
    key = f"clips/{clip.id}/hls/master.m3u8"
    token = Signer.from_settings(stack_services.settings).token(clip_scope(clip.id), int(time.time()) + 60)
    kid, expires, signature = token.split("/")[1:]
    assert (await fetch(f"{delivery_stack.origin}/media/{token}/{key}")).status_code == 200
    for spelling in (f"0{expires}", f"00{expires}", f"{expires}".replace("1", "\N{SUPERSCRIPT ONE}")):
        odd = await fetch(f"{delivery_stack.origin}/media/s/{kid}/{spelling}/{signature}/{key}")
        assert odd.status_code == 403, spelling


async def test_a_rotated_out_key_stops_working_and_the_previous_one_still_does(delivery_stack, stack_services,
                                                                                creator) -> None:
    from clipfeed.delivery.signing import Signer as S
    from clipfeed.delivery.signing import parse_keys

    clip = await ladder.publish(owner_id=creator.id, visibility="unlisted", services=stack_services)
    key = f"clips/{clip.id}/hls/master.m3u8"
    expires = int(time.time()) + 60
    previous = S(parse_keys(["k1:first-secret-0123456789"])).token(clip_scope(clip.id), expires)
    assert (await fetch(f"{delivery_stack.origin}/media/{previous}/{key}")).status_code == 200
    retired = S(parse_keys(["k0:retired-secret-0123456789"])).token(clip_scope(clip.id), expires)
    assert (await fetch(f"{delivery_stack.origin}/media/{retired}/{key}")).status_code == 403


async def test_deleted_and_rejected_clips_are_gone_at_once(delivery_stack, stack_services, creator) -> None:
    s = stack_services
    rejected = await ladder.publish(services=s, owner_id=creator.id)
    url = f"{delivery_stack.origin}/media/clips/{rejected.id}/v/240/seg_00000.m4s"
    assert (await fetch(url)).status_code == 200
    await clips.set_status(db=s.db, outbox=s.outbox, clip_id=rejected.id, status=ClipStatus.rejected, reason="no")
    assert (await fetch(url)).status_code == 410
    held = await ladder.publish(services=s, owner_id=creator.id)
    await clips.set_status(db=s.db, outbox=s.outbox, clip_id=held.id, status=ClipStatus.review, reason="check")
    assert (await fetch(f"{delivery_stack.origin}/media/clips/{held.id}/hls/master.m3u8")).status_code == 404
    deleted = await ladder.publish(services=s, owner_id=creator.id)
    await clips.delete(db=s.db, blobs=s.blobs, outbox=s.outbox, clip_id=deleted.id, user_id=creator.id)
    gone = await fetch(f"{delivery_stack.origin}/media/clips/{deleted.id}/hls/master.m3u8")
    assert gone.status_code == 410 and gone.headers["content-type"].startswith("application/problem+json")


async def test_the_origin_role_serves_media_and_health_only(delivery_stack, stack_services, creator,
                                                            tmp_path) -> None:
    import subprocess
    import sys

    from tests.delivery.conftest import origin_env
    from tests.services import free_port, wait_for_port

    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "clipfeed.cli", "serve", "--role", "origin"],
                              env=origin_env(delivery_stack.data_dir, port, delivery_stack.edge),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, server, timeout=60)
        base = f"http://127.0.0.1:{port}"
        assert (await fetch(f"{base}/media/clips/{clip.id}/hls/master.m3u8")).status_code == 200
        assert (await fetch(f"{base}/healthz")).status_code == 200
        assert (await fetch(f"{base}/v1/clips/{clip.id}")).status_code == 404
    finally:
        server.terminate()
        server.wait(15)
