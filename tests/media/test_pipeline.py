"""The media job end to end on real clips: statuses, reasons, flags, edits, exactly-once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from clipfeed.media.job import Job
from clipfeed.media.pipeline import run_job
from tests.helpers import signup
from tests.media.submit import SHARED, clip_row, ffprobe, make_clip, object_keys, outcomes, submit

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]


async def process(video: Path, *, services, **kw) -> tuple[int, str]:
    event = await submit(video, **kw, services=services)
    outcome = await run_job(Job.from_event(event), services=services)
    return int(event.key), outcome


def corrupt_corpus(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Bad inputs and a phrase the creator's reason must contain."""
    good = make_clip(tmp / "good.mp4", size="320x240", seconds=4, extra=["-movflags", "+faststart"])
    data = good.read_bytes()
    (tmp / "cut.mp4").write_bytes(data[: len(data) // 2])  # index intact, media cut off
    (tmp / "garbage.mp4").write_bytes(data[:32] + bytes(range(256)) * 200)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(SHARED / "cup.mp4"), "-map", "0", "-c", "copy", "-bsf:v",
                    "noise=drop=1", str(tmp / "empty-video.mkv")], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=s=9000x64:d=0.2", "-c:v", "libx264",
                    "-preset", "ultrafast", str(tmp / "huge.mp4")], check=True)
    return {"truncated": (SHARED / "bad" / "truncated.mp4", "not a readable video"),
            "text": (SHARED / "bad" / "text-renamed.mp4", "not a readable video"),
            "zero": (SHARED / "bad" / "zero-bytes.mp4", "not a readable video"),
            "audio-only": (SHARED / "bad" / "audio-only.mp4", "audio only"),
            "cut": (tmp / "cut.mp4", "damaged"),
            "garbage": (tmp / "garbage.mp4", "not a readable video"),
            "empty-video": (tmp / "empty-video.mkv", "damaged"),
            "huge": (tmp / "huge.mp4", "too large")}


async def test_broken_inputs_are_rejected_with_a_reason_and_leave_only_the_master(tmp_path: Path, *, services) -> None:
    for name, (video, phrase) in corrupt_corpus(tmp_path).items():
        clip_id, outcome = await process(video, services=services)
        clip = await clip_row(clip_id, services=services)
        assert (outcome, clip.status) == ("rejected", "rejected"), name
        assert phrase in (clip.status_reason or ""), (name, clip.status_reason)
        assert "/tmp" not in (clip.status_reason or "")
        assert await object_keys(clip_id, services=services) == [clip.media["master"]], name
    assert [e.type for e in await outcomes(services=services)] == ["clip.rejected"] * 8


async def test_mid_file_damage_is_flagged_and_legacy_codecs_are_published(*, services) -> None:
    damaged_id, outcome = await process(SHARED / "box-damaged.mp4", services=services)
    damaged = await clip_row(damaged_id, services=services)
    assert outcome == "ready" and "damaged_frames" in damaged.media["quality"]["flags"]
    legacy_id, outcome = await process(SHARED / "tree.avi", services=services)  # Cinepak, no sound
    legacy = await clip_row(legacy_id, services=services)
    assert outcome == "ready" and legacy.media["quality"]["flags"] == ["no_audio"]
    assert (legacy.width, legacy.height, legacy.duration_ms // 1000) == (320, 240, 29)


async def test_black_frozen_and_silent_clips_are_flagged_not_refused(client, tmp_path: Path, *, services) -> None:
    dull = tmp_path / "dull.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "color=black:s=320x240:r=25", "-f", "lavfi",
                    "-i", "anullsrc=r=48000:cl=stereo", "-t", "4", "-c:v", "libx264", "-preset", "ultrafast",
                    "-c:a", "aac", str(dull)], check=True)
    owner, other = await signup(client, "dull_owner"), await signup(client, "someone")
    clip_id, outcome = await process(dull, owner_id=owner.id, services=services)
    quality = (await clip_row(clip_id, services=services)).media["quality"]
    assert outcome == "ready" and {"black", "frozen", "silent"} <= set(quality["flags"])
    # The creator is told, in the status and in the clip as they read it; nobody else is.
    status = (await client.get(f"/v1/clips/{clip_id}/status", headers=owner.auth)).json()
    assert {"black", "frozen", "silent"} <= set(status["quality_flags"])
    mine = (await client.get(f"/v1/clips/{clip_id}", headers=owner.auth)).json()
    assert {"black", "frozen", "silent"} <= set(mine["quality_flags"])
    listed = (await client.get("/v1/users/dull_owner/clips", headers=owner.auth)).json()["items"]
    assert {"black", "frozen", "silent"} <= set(listed[0]["quality_flags"])
    theirs = (await client.get(f"/v1/clips/{clip_id}", headers=other.auth)).json()
    assert theirs["status"] == "ready" and theirs["quality_flags"] is None
    anonymous = (await client.get("/v1/users/dull_owner/clips")).json()["items"]
    assert anonymous[0]["quality_flags"] is None


async def test_edits_are_applied_in_the_same_pass_and_recorded(tmp_path: Path, *, services) -> None:
    source = make_clip(tmp_path / "src.mp4", size="640x360", seconds=6)
    event = await submit(source, publish=False, services=services)
    song = f"clips/{event.key}/raw/song.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=880:sample_rate=44100", "-t", "2",
                    "-c:a", "aac", str(tmp_path / "song.m4a")], check=True)
    await services.blobs.put_file(song, tmp_path / "song.m4a")
    edits = {"trim_start": 1, "trim_end": 5, "speed": 2, "rotate": 90, "cover_time": 0.5,
             "crop": {"x": 0.25, "y": 0, "width": 0.5, "height": 1},
             "texts": [{"text": "50% off: 'today'", "start": 0, "end": 1.5, "size": 0.08}],
             "audio": {"key": song, "mode": "mix", "volume": 0.5}}
    job = Job.from_event(event.model_copy(update={"payload": {**event.payload, "edits": edits}}))
    assert await run_job(job, services=services) == "ready"
    clip = await clip_row(job.clip_id, services=services)
    # 4 s of source at double speed; cropped to 320x360, turned to 360x320, so the 240 rung is 270x240
    assert clip.duration_ms == 2000 and (clip.width, clip.height) == (270, 240)
    assert clip.media["edits"]["speed"] == 2 and clip.media["quality"]["flags"] == []
    fallback = services.blobs.local_path(clip.media["mp4"])
    streams = ffprobe(fallback, "-show_entries", "stream=codec_type", "-of", "csv=p=0").split()
    assert streams == ["video", "audio"]


async def test_a_redelivered_job_finishes_once_with_the_same_outputs(*, services) -> None:
    event = await submit(SHARED / "carphone_pristine.mp4", services=services)
    job = Job.from_event(event)
    assert await run_job(job, services=services) == "ready"
    first = await clip_row(job.clip_id, services=services)
    keys = await object_keys(job.clip_id, services=services)
    assert await run_job(job, services=services) == "ready (already)"
    again = await clip_row(job.clip_id, services=services)
    assert again.media == first.media and await object_keys(job.clip_id, services=services) == keys
    assert not [k for k in keys if "/work/" in k]
    assert [e.type for e in await outcomes(job.clip_id, services=services)] == ["clip.ready"]
