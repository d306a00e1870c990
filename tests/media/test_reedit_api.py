"""Re-editing a clip from its kept master (``POST /v1/clips/{id}/edits``), and a job on the real
stack (S3, PostgreSQL, Redis, JetStream) whose outputs play from the object store."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clipfeed.media.job import Job
from clipfeed.media.pipeline import run_job
from tests.helpers import assert_problem, signup
from tests.media.submit import SHARED, clip_row, object_keys, outcomes, submit, topic_events

pytestmark = pytest.mark.slow


async def latest_job(clip_id: int, *, services) -> Job:
    await services.outbox.flush()  # the API recorded the job in the outbox
    events = await topic_events("media.uploaded", clip_id, services=services)
    return Job.from_event(events[-1])


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
async def test_the_creator_re_edits_without_uploading_again_and_others_cannot(client, services) -> None:
    alice, bob = await signup(client, "alice"), await signup(client, "bob")
    event = await submit(SHARED / "carphone_pristine.mp4", owner_id=alice.id, services=services)
    clip_id = int(event.key)
    assert_problem(await client.post(f"/v1/clips/{clip_id}/edits", headers=alice.auth, json={"trim_end": 2}), 409)
    assert await run_job(Job.from_event(event), services=services) == "ready"
    before = await clip_row(clip_id, services=services)
    assert before.duration_ms == pytest.approx(4000, abs=40)

    assert_problem(await client.post(f"/v1/clips/{clip_id}/edits", headers=bob.auth, json={"trim_end": 2}), 403)
    assert_problem(await client.post(f"/v1/clips/{clip_id}/edits", json={"trim_end": 2}), 401)
    bad = await client.post(f"/v1/clips/{clip_id}/edits", headers=alice.auth, json={"speed": 9})
    assert_problem(bad, 422)
    stolen = {"audio": {"key": "clips/1/raw/master.mp4"}}
    assert_problem(await client.post(f"/v1/clips/{clip_id}/edits", headers=alice.auth, json=stolen), 422)

    accepted = await client.post(f"/v1/clips/{clip_id}/edits", headers=alice.auth,
                                 json={"trim_start": 1, "trim_end": 3, "texts": [{"text": "take two"}]})
    assert accepted.status_code == 202 and accepted.json()["status"] == "processing"
    assert_problem(await client.get(f"/v1/clips/{clip_id}", headers=bob.auth), 404)  # out of sight meanwhile
    job = await latest_job(clip_id, services=services)
    assert job.edits.trim_end == 3 and job.master_key == before.media["master"]
    assert await run_job(job, services=services) == "ready"
    after = await clip_row(clip_id, services=services)
    assert after.duration_ms == pytest.approx(2000, abs=40) and after.media["master"] == before.media["master"]
    assert after.media["edits"]["texts"][0]["text"] == "take two"
    assert not [k for k in await object_keys(clip_id, services=services) if "/work/" in k]


@pytest.mark.parametrize("stack", ["real"], indirect=True)
async def test_on_the_real_stack_the_renditions_play_straight_from_s3(tmp_path: Path, *, services) -> None:
    event = await submit(SHARED / "bigbuckbunny.mp4", services=services)
    assert await run_job(Job.from_event(event), services=services) == "ready"
    clip = await clip_row(int(event.key), services=services)
    keys = await object_keys(clip.id, services=services)
    assert clip.media["hls"] in keys and clip.media["dash"] in keys and len(keys) == clip.media["objects"] + 1
    for key in keys:  # the store's layout, copied as an edge cache would hold it
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        await services.blobs.download(key, tmp_path / key)
    played = subprocess.run(["ffmpeg", "-v", "error", "-i", str(tmp_path / clip.media["hls"]), "-map", "0",
                             "-f", "null", "-"], capture_output=True, text=True)
    assert played.returncode == 0 and played.stderr == ""
    assert [e.type for e in await outcomes(clip.id, services=services)] == ["clip.ready"]
