"""The media worker as operators run it: a killed worker's job is finished by another, exactly
once and without orphan objects; long clips are encoded in chunks and joined."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clipfeed.clips.models import Clip
from clipfeed.workers import run_role
from tests.helpers import wait_for
from tests.media.submit import clip_row, ffprobe, make_clip, object_keys, outcomes, submit, topic_events

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]
CLIPFEED = Path(sys.executable).parent / "clipfeed"


def expected_objects(clip: Clip) -> set[str]:
    """Every object the clip row accounts for (renditions enumerate their segments)."""
    media = clip.media
    keys = {media["master"], media["hls"], media["dash"], media["mp4"], *media["images"].values()}
    for track in [*media["renditions"].values(), *([media["audio"]] if media["audio"] else [])]:
        folder = track["playlist"].rsplit("/", 1)[0]
        keys |= {f"{folder}/init.mp4", f"{folder}/index.m3u8",
                 *(f"{folder}/seg_{n:05d}.m4s" for n in range(track["segments"]))}
    return keys


def start_worker(settings, **env_overrides: str) -> subprocess.Popen[bytes]:
    """A media worker in its own process group (with its FFmpeg), as a supervisor starts one."""
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(settings.data_dir), "CLIPFEED_MEDIA_ACK_WAIT_S": "3",
           "CLIPFEED_LOG_JSON": "false", **env_overrides}
    return subprocess.Popen([str(CLIPFEED), "worker", "media"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)



async def mid_transcode(clip_id: int, *, segments: int, services) -> None:
    """Wait until a worker is mid-transcode: segments going up, no manifest of a finished job."""
    async def segments_uploaded() -> bool:
        return len([k for k in await object_keys(clip_id, services=services) if k.endswith(".m4s")]) >= segments

    await wait_for(segments_uploaded, 120)
    assert not await services.blobs.exists(f"clips/{clip_id}/dash/manifest.mpd")


async def finish_in_another_worker(clip_id: int, *, timeout: float, services, **env_overrides: str) -> None:
    """A second worker makes the clip ready within ``timeout``, with exactly its objects."""
    second = start_worker(services.settings, **env_overrides)
    try:
        async def ready() -> bool:
            return (await clip_row(clip_id, services=services)).status == "ready"

        await wait_for(ready, timeout)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    clip = await clip_row(clip_id, services=services)
    assert set(await object_keys(clip_id, services=services)) == expected_objects(clip)


async def test_a_worker_killed_mid_transcode_leaves_the_job_to_another_that_finishes_it_once(
        tmp_path: Path, *, services) -> None:
    source = make_clip(tmp_path / "src.mp4", size="1280x720", seconds=12)
    event = await submit(source, services=services)
    clip_id = int(event.key)
    first = start_worker(services.settings)
    try:
        await mid_transcode(clip_id, segments=4, services=services)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    await asyncio.sleep(0.5)
    orphans = subprocess.run(["pgrep", "-f", f"media-work/{clip_id}"], capture_output=True, text=True).stdout
    assert orphans == "", "the killed worker's FFmpeg kept running"
    assert (await clip_row(clip_id, services=services)).status == "processing"
    await finish_in_another_worker(clip_id, timeout=240, services=services)
    async def ready_events() -> list:
        await services.outbox.flush()  # relayed after commit, by whichever process gets to it
        return [e for e in await topic_events("clips", clip_id, services=services) if e.type == "clip.ready"]

    async def announced() -> bool:
        return bool(await ready_events())

    await wait_for(announced, 60)
    await asyncio.sleep(1.0)
    assert len(await ready_events()) == 1
    assert [e.type for e in await outcomes(clip_id, services=services)] == ["clip.ready"]


async def test_a_worker_stopped_mid_transcode_hands_its_job_back_and_another_finishes_it_before_the_lease_ends(
        tmp_path: Path, *, services) -> None:
    # A lease far longer than the test may wait: only the hand-back explains a prompt finish.
    lease = {"CLIPFEED_MEDIA_ACK_WAIT_S": "600", "CLIPFEED_WORKER_STOP_GRACE_S": "1"}
    source = make_clip(tmp_path / "src.mp4", size="1280x720", seconds=12)
    clip_id = int((await submit(source, services=services)).key)
    first = start_worker(services.settings, **lease)
    try:
        await mid_transcode(clip_id, segments=2, services=services)
        os.killpg(first.pid, signal.SIGTERM)  # as systemd or a container stop does: FFmpeg gets it too
        assert first.wait(30) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert (await clip_row(clip_id, services=services)).status == "processing"  # handed back, not failed
    assert not await _has_dead_letter(clip_id, services=services)
    await finish_in_another_worker(clip_id, timeout=300, services=services, **lease)


# Chunks of 10 s past 20 s rather than the defaults (30 s past 60 s): the same six chunks
# and joins from a clip a third as long.
@pytest.mark.settings(media_chunk_after_s=20.0, media_chunk_s=10.0)
async def test_a_long_clip_is_encoded_in_chunks_and_joined_on_the_same_keyframes(
        tmp_path: Path, *, services) -> None:
    source = make_clip(tmp_path / "long.mp4", size="480x270", seconds=60)
    event = await submit(source, services=services)
    clip_id = int(event.key)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_role("media", stop, services=services))
    try:
        async def done() -> bool:
            return (await clip_row(clip_id, services=services)).status == "ready"

        await wait_for(done, 400)
    finally:
        stop.set()
        await worker
    clip = await clip_row(clip_id, services=services)
    chunk_jobs = await topic_events("media.chunks", clip_id, services=services)
    assert len(chunk_jobs) == 6 and clip.duration_ms == 60_000  # cut at 9, 19, 29, ... s
    folder = tmp_path / "joined"
    folder.mkdir()
    rendition = next(iter(clip.media["renditions"].values()))
    base = rendition["playlist"].rsplit("/", 1)[0]
    with (folder / "all.mp4").open("wb") as out:
        for name in ["init.mp4", *(f"seg_{n:05d}.m4s" for n in range(rendition["segments"]))]:
            out.write(await services.blobs.get(f"{base}/{name}"))
    times = [float(t.split(",")[0]) for t in ffprobe(folder / "all.mp4", "-select_streams", "v:0", "-skip_frame",
                                                     "nokey", "-show_entries", "frame=pts_time", "-of",
                                                     "csv=p=0").split()]
    offsets = [round(t - times[0], 2) for t in times]
    assert offsets == [0.0, *[float(s) for s in range(1, 60, 2)]]
    assert float(ffprobe(folder / "all.mp4", "-show_entries", "format=duration", "-of", "csv=p=0")) == \
        pytest.approx(60, abs=0.2)
    assert set(await object_keys(clip_id, services=services)) == expected_objects(clip)


async def test_an_unreadable_job_fails_its_clip_and_goes_to_the_dead_letter_topic(*, services) -> None:
    from clipfeed.core.events import Event

    video = make_clip(Path(services.settings.data_dir) / "tiny.mp4", seconds=1.5, size="320x240")
    event = await submit(video, publish=False, services=services)
    clip_id = int(event.key)
    broken = Event(id=services.ids.next_id(), type="media.uploaded", key=str(clip_id), actor_id=event.actor_id,
                   payload={"clip_id": str(clip_id), "master_key": "../elsewhere"})
    await services.log.append("media.uploaded", broken.encode(), key=str(clip_id).encode())
    stop = asyncio.Event()
    worker = asyncio.create_task(run_role("media", stop, services=services))
    try:
        async def failed() -> bool:
            return (await clip_row(clip_id, services=services)).status == "failed"

        await wait_for(failed, timeout=90)
        await wait_for(lambda: _has_dead_letter(clip_id, services=services), timeout=30)
    finally:
        stop.set()
        await worker
    clip = await clip_row(clip_id, services=services)
    assert clip.status_reason == "processing failed; please try again later"
    assert await object_keys(clip_id, services=services) == [event.payload["master_key"]]  # the upload is kept


async def _has_dead_letter(clip_id: int, *, services) -> bool:
    return any(e.key == str(clip_id) for e in await topic_events("dlq.media", services=services))
