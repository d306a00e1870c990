"""Processing status (JSON and server-sent events) and the upload sweep, on both stacks."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus
from clipfeed.infra.db import utcnow
from clipfeed.media import progress
from clipfeed.uploads import handoff, lifecycle
from clipfeed.uploads.models import Upload
from tests.helpers import assert_problem, signup
from tests.uploads.tus import SAMPLE, TUS, create, head, patch, send_all, upload_id


async def _next_status(lines: object) -> dict:
    async for line in lines:
        if line.startswith("data:"):
            return dict(json.loads(line[5:]))
    raise AssertionError("the stream ended")


async def test_status_follows_processing_until_ready(live_url: str, *, services) -> None:
    async with httpx.AsyncClient(base_url=live_url, timeout=30) as client:
        alice, bob = await signup(client, "alice"), await signup(client, "bob")
        _, earlier = await send_all(client, bob.auth, SAMPLE.read_bytes(), caption="bob's, first in the queue")
        _, last = await send_all(client, alice.auth, SAMPLE.read_bytes(), caption="status")
        clip_id = last.headers["clipfeed-clip-id"]
        status = (await client.get(f"/v1/clips/{clip_id}/status", headers=alice.auth)).json()
        # No media worker runs here: both clips wait, and Alice's knows one stands before it.
        assert (status["status"], status["stage"], status["percent"]) == ("processing", "queued", 0)
        assert status["queue_position"] == 1
        assert (await client.get(f"/v1/clips/{earlier.headers['clipfeed-clip-id']}/status",
                                 headers=bob.auth)).json()["queue_position"] == 0
        assert_problem(await client.get(f"/v1/clips/{clip_id}/status", headers=bob.auth), 404)
        assert_problem(await client.get(f"/v1/clips/{clip_id}/status/stream",
                                        params={"access_token": bob.token}), 404)

        # EventSource style: the token in the query string.
        async with client.stream("GET", f"/v1/clips/{clip_id}/status/stream",
                                 params={"access_token": alice.token}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            first = await _next_status(lines)
            assert (first["status"], first["stage"], first["queue_position"]) == ("processing", "queued", 1)
            # What the media worker does: progress reports, then the final status.
            await progress.publish(clip_id=int(clip_id), stage="transcoding", percent=40.0, status="processing",
                                   services=services)
            moved = await asyncio.wait_for(_next_status(lines), 15)
            assert (moved["stage"], moved["percent"], moved["queue_position"]) == ("transcoding", 40.0, None)
            await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=int(clip_id),
                                           status=ClipStatus.ready)
            done = await asyncio.wait_for(_next_status(lines), 15)
            assert (done["status"], done["percent"]) == ("ready", 100.0)
            rest = [line async for line in lines]  # the stream ends by itself after a terminal status
            assert not [line for line in rest if line.startswith("data:")]
        cached = (await client.get(f"/v1/clips/{clip_id}/status", headers=alice.auth)).json()
        assert cached["status"] == "ready"

        draft = (await client.post("/v1/clips", headers=alice.auth, json={"caption": "later"})).json()["id"]
        uid = upload_id(await create(client, alice.auth, 1000, clip_id=draft))
        await patch(client, alice.auth, uid, 0, SAMPLE.read_bytes()[:250])
        uploading = (await client.get(f"/v1/clips/{draft}/status", headers=alice.auth)).json()
        assert (uploading["stage"], uploading["percent"]) == ("uploading", 25.0)


async def test_sweep_expires_uploads_and_finishes_interrupted_hand_offs(client, services, monkeypatch) -> None:
    alice = await signup(client, "alice")
    data = SAMPLE.read_bytes()
    stale = upload_id(await create(client, alice.auth, len(data)))
    await patch(client, alice.auth, stale, 0, data[:5000])

    # The process "dies" right after the last byte, before the hand-off.
    real_finish = handoff.finish

    async def killed(*args, **kwargs):
        raise RuntimeError("killed")

    interrupted = upload_id(await create(client, alice.auth, len(data)))
    monkeypatch.setattr(handoff, "finish", killed)
    with pytest.raises(RuntimeError, match="killed"):
        await patch(client, alice.auth, interrupted, 0, data)
    monkeypatch.setattr(handoff, "finish", real_finish)
    async with services.db.session() as session:
        row = await session.get(Upload, int(interrupted))
        assert row is not None and row.state == "receiving" and row.offset == len(data)
        await session.execute(sa.update(Upload).where(Upload.id == int(stale)).values(
            expires_at=utcnow() - timedelta(seconds=1)))

    done = await lifecycle.sweep(services=services)
    assert done["expired"] == 1 and done["finished"] == 1
    assert (await head(client, alice.auth, stale)).status_code == 410
    assert not [info async for info in services.blobs.list(f"uploads/{stale}/")]
    finished = (await client.get(f"/v1/uploads/{interrupted}", headers=alice.auth)).json()
    assert finished["state"] == "complete" and finished["clip_id"]
    assert (await client.get(f"/v1/clips/{finished['clip_id']}", headers=alice.auth)).json()["status"] == "processing"

    # Records go after their retention; a second sweep has nothing left to do.
    services.settings.upload_record_ttl_s = 0
    await asyncio.sleep(0.01)
    assert (await lifecycle.sweep(services=services))["deleted"] == 2
    assert (await head(client, alice.auth, stale)).status_code == 404


async def _uploads_blobs(uid: str, *, services) -> list[str]:
    return [info.key async for info in services.blobs.list(f"uploads/{uid}/")]


async def _cleared(uid: str, *, services) -> bool:
    async with services.db.session() as session:
        row = await session.get(Upload, int(uid))
        assert row is not None
        return bool(row.bytes_cleared)


async def test_the_final_patch_answers_before_the_clean_up_which_follows(client, services, monkeypatch) -> None:
    alice = await signup(client, "alice")
    release = asyncio.Event()
    real_clear = handoff.clear_bytes

    async def held_clear(*args, **kwargs):
        await release.wait()
        await real_clear(*args, **kwargs)

    monkeypatch.setattr(handoff, "clear_bytes", held_clear)
    uid, last = await send_all(client, alice.auth, SAMPLE.read_bytes())
    assert last.status_code == 204 and last.headers["clipfeed-upload-state"] == "complete"
    # Answered while the clean-up waits: the bytes are still there, and recorded as such.
    assert await _uploads_blobs(uid, services=services) and not await _cleared(uid, services=services)
    release.set()
    for _ in range(250):
        if await _cleared(uid, services=services):
            break
        await asyncio.sleep(0.02)
    assert await _cleared(uid, services=services) and await _uploads_blobs(uid, services=services) == []


async def test_bytes_a_process_left_when_it_died_after_the_commit_are_swept(client, services, monkeypatch) -> None:
    """Killed between the commit and the clean-up: a complete upload, its partials, bytes
    still there and ``bytes_cleared`` false; the lifecycle sweep removes them."""
    alice = await signup(client, "alice")
    data = SAMPLE.read_bytes()

    async def died(*args, **kwargs) -> None:  # the clean-up never runs
        return None

    monkeypatch.setattr(handoff, "_after_commit", died)
    single, last = await send_all(client, alice.auth, data)
    assert last.headers["clipfeed-upload-state"] == "complete"
    pieces = []
    for start, end in ((0, len(data) // 2), (len(data) // 2, len(data))):
        made = await client.post("/v1/uploads/", headers={**TUS, **alice.auth, "Upload-Concat": "partial",
                                                          "Upload-Length": str(end - start)})
        assert (await patch(client, alice.auth, upload_id(made), 0, data[start:end])).status_code == 204
        pieces.append(made)
    final = await client.post("/v1/uploads/", headers={**TUS, **alice.auth, "Upload-Concat": "final;" + " ".join(
        made.headers["location"] for made in pieces)})
    assert final.status_code == 201 and final.headers["clipfeed-clip-id"]
    left = [single, upload_id(final), *(upload_id(made) for made in pieces)]
    assert all([not await _cleared(uid, services=services) for uid in left])
    assert await _uploads_blobs(single, services=services)
    assert all([await _uploads_blobs(upload_id(made), services=services) for made in pieces])

    done = await lifecycle.sweep(services=services)
    assert done["cleared"] == 2  # the single upload, the final one with its partials
    assert all([await _cleared(uid, services=services) for uid in left])
    assert [info.key async for info in services.blobs.list("uploads/")] == []
    assert (await lifecycle.sweep(services=services))["cleared"] == 0


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_a_newer_request_takes_over_from_a_stalled_one(client, services) -> None:
    """A phone whose connection died mid-PATCH reconnects: its new PATCH must not wait."""
    alice = await signup(client, "alice")
    data = SAMPLE.read_bytes()
    uid = upload_id(await create(client, alice.auth, len(data)))
    stalled = asyncio.Event()

    async def slow_body():
        yield data[:300_000]
        stalled.set()
        await asyncio.sleep(3600)  # the network went quiet; the server has not noticed

    hung = asyncio.create_task(client.patch(f"/v1/uploads/{uid}", content=slow_body(), headers={
        **alice.auth, "Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": "0"}))
    await asyncio.wait_for(stalled.wait(), 10)
    await asyncio.sleep(0.2)
    assert (await head(client, alice.auth, uid)).headers["upload-offset"] == "0"  # nothing durable yet
    # The new PATCH stops the stalled one, which keeps the 300,000 bytes it did receive; tus
    # clients then learn the offset from the 409 (or a HEAD) and carry on at once.
    started = asyncio.get_running_loop().time()
    conflict = await asyncio.wait_for(patch(client, alice.auth, uid, 0, data), 20)
    assert_problem(conflict, 409)
    assert conflict.headers["upload-offset"] == "300000"
    resumed = await patch(client, alice.auth, uid, 300_000, data[300_000:])
    assert resumed.status_code == 204 and resumed.headers["clipfeed-clip-id"]
    assert asyncio.get_running_loop().time() - started < 10
    hung.cancel()
