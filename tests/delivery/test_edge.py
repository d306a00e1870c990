"""A real nginx edge (src/clipfeed/delivery/edge.conf) in front of a real origin, on loopback."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import Role
from clipfeed.delivery.signing import Signer, clip_scope
from clipfeed.delivery.worker import PurgeProcessor
from tests.delivery import ladder
from tests.delivery.conftest import fetch, origin_requests

pytestmark = pytest.mark.slow


async def test_second_request_is_a_hit_and_never_reaches_the_origin(delivery_stack, stack_services, creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    url = f"{delivery_stack.edge}/media/clips/{clip.id}/v/360/seg_00001.m4s"
    before = origin_requests(delivery_stack.origin)
    first = await fetch(url)
    assert first.status_code == 200 and first.headers["x-cache-status"] == "MISS"
    for _ in range(5):
        again = await fetch(url)
        assert again.headers["x-cache-status"] == "HIT"
        assert again.content == (ladder.ladder() / "v/360/seg_00001.m4s").read_bytes()
    assert origin_requests(delivery_stack.origin) - before == 1
    assert again.headers["content-type"] == "video/iso.segment"
    assert again.headers["access-control-allow-origin"] == "*"


async def test_a_burst_on_a_cold_object_sends_one_request_to_the_origin(delivery_stack, stack_services,
                                                                        creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    url = f"{delivery_stack.edge}/media/clips/{clip.id}/v/720/seg_00002.m4s"
    before = origin_requests(delivery_stack.origin)
    async with httpx.AsyncClient(timeout=10) as http:
        answers = await asyncio.gather(*(http.get(url) for _ in range(20)))
    assert all(a.status_code == 200 for a in answers)
    assert origin_requests(delivery_stack.origin) - before == 1  # proxy_cache_lock


async def test_ranges_are_served_from_the_edge(delivery_stack, stack_services, creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    for key in ("v/720/seg_00000.m4s", "mp4/fallback.mp4"):
        whole = (ladder.ladder() / key).read_bytes()
        url = f"{delivery_stack.edge}/media/clips/{clip.id}/{key}"
        part = await fetch(url, Range="bytes=1000-4999")
        assert part.status_code == 206 and part.content == whole[1000:5000], key
        assert part.headers["content-range"] == f"bytes 1000-4999/{len(whole)}"
        tail = await fetch(url, Range="bytes=-100")
        assert tail.status_code == 206 and tail.content == whole[-100:]
        assert tail.headers["x-cache-status"] == "HIT"


async def test_signed_urls_are_checked_at_the_edge(delivery_stack, stack_services, creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, visibility="unlisted", services=stack_services)
    signer = Signer.from_settings(stack_services.settings)
    key = f"clips/{clip.id}/v/240/seg_00000.m4s"
    assert (await fetch(f"{delivery_stack.edge}/media/{key}")).status_code == 404  # the origin refuses it
    token = signer.token(clip_scope(clip.id), int(time.time()) + 120)
    accepted = await fetch(f"{delivery_stack.edge}/media/{token}/{key}")
    assert accepted.status_code == 200 and accepted.headers["x-cache-status"] == "MISS"
    before = origin_requests(delivery_stack.origin)
    # Another viewer's token shares the cached copy: the key has no token in it.
    other = signer.token(clip_scope(clip.id), int(time.time()) + 300)
    shared = await fetch(f"{delivery_stack.edge}/media/{other}/{key}")
    assert shared.status_code == 200 and shared.headers["x-cache-status"] == "HIT"
    expired = signer.token(clip_scope(clip.id), int(time.time()) - 5)
    assert (await fetch(f"{delivery_stack.edge}/media/{expired}/{key}")).status_code == 410
    kid, expires, signature = token.split("/")[1:]
    forged = f"s/{kid}/{int(expires) + 3600}/{signature}"
    assert (await fetch(f"{delivery_stack.edge}/media/{forged}/{key}")).status_code == 403
    leading_zero = f"s/{kid}/0{expires}/{signature}"
    assert (await fetch(f"{delivery_stack.edge}/media/{leading_zero}/{key}")).status_code == 403
    unknown = f"s/zz/{expires}/{signature}"
    assert (await fetch(f"{delivery_stack.edge}/media/{unknown}/{key}")).status_code == 403
    elsewhere = await fetch(f"{delivery_stack.edge}/media/{token}/clips/{clip.id + 1}/v/240/seg_00000.m4s")
    assert elsewhere.status_code == 403
    assert origin_requests(delivery_stack.origin) == before  # refused at the edge itself


async def test_raw_masters_are_refused_by_the_edge_without_asking_the_origin(delivery_stack, stack_services,
                                                                             creator) -> None:
    clip = await ladder.publish(owner_id=creator.id, services=stack_services)
    before = origin_requests(delivery_stack.origin)
    assert (await fetch(f"{delivery_stack.edge}/media/clips/{clip.id}/raw/master.mp4")).status_code == 404
    assert origin_requests(delivery_stack.origin) == before


async def _token(origin: str, handle: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(f"{origin}/v1/auth/login", json={"login": handle,
                                                                   "password": "correct horse battery"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def test_moderators_purge_a_clip_from_the_edges(delivery_stack, stack_services, creator) -> None:
    s = stack_services
    await accounts.create_user(db=s.db, outbox=s.outbox, ids=s.ids, settings=s.settings, handle="warden",
                               email="warden@example.com", password="correct horse battery", role=Role.moderator)
    clip = await ladder.publish(services=s, owner_id=creator.id)
    urls = [f"{delivery_stack.edge}/media/clips/{clip.id}/{k}" for k in ("hls/master.m3u8", "v/240/init.mp4")]
    for url in urls:
        await fetch(url)
        assert (await fetch(url)).headers["x-cache-status"] == "HIT"
    body = {"clip_ids": [str(clip.id)], "urgency": "immediate", "reason": "test"}
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(f"{delivery_stack.origin}/v1/admin/purge", json=body,
                                  headers={"Authorization": f"Bearer {await _token(delivery_stack.origin, 'maker')}"})
        assert refused.status_code == 403
        done = await http.post(f"{delivery_stack.origin}/v1/admin/purge", json=body,
                               headers={"Authorization": f"Bearer {await _token(delivery_stack.origin, 'warden')}"})
    assert done.status_code == 202, done.text
    assert done.json()["edges"] == 1 and done.json()["confirmed"] == 1 and done.json()["removed"] >= 2
    for url in urls:
        after = await fetch(url)
        assert after.status_code == 200 and after.headers["x-cache-status"] == "MISS"


async def test_a_takedown_event_purges_every_edge(delivery_stack, stack_services, creator) -> None:
    from clipfeed.clips import service as clips
    from clipfeed.clips.models import ClipStatus
    from clipfeed.runtime.consumers import run_processor

    s = stack_services
    clip = await ladder.publish(services=s, owner_id=creator.id)
    url = f"{delivery_stack.edge}/media/clips/{clip.id}/v/720/seg_00000.m4s"
    await fetch(url)
    assert (await fetch(url)).headers["x-cache-status"] == "HIT"
    stop = asyncio.Event()
    worker = asyncio.create_task(run_processor(PurgeProcessor(services=s), stop))  # as `clipfeed worker stream`
    try:
        # The moderation decision commits; the event goes out through the outbox and the log.
        await clips.set_status(db=s.db, outbox=s.outbox, clip_id=clip.id, status=ClipStatus.rejected,
                               reason="takedown")
        deadline = time.monotonic() + 30
        while (await fetch(url)).headers.get("x-cache-status") == "HIT":
            assert time.monotonic() < deadline, "the edge still serves the clip"
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await worker
    after = await fetch(url)
    assert after.status_code == 410
