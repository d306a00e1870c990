"""An upload that already is the top rung is published as it is (its video packets copied), the
other rungs encoded from it and cut at the same instants; anything else is encoded in full."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest

from clipfeed.clips.models import Clip
from clipfeed.media import edits as edit_lists
from clipfeed.media import passthrough, transcode
from clipfeed.media import probe as prober
from clipfeed.media.job import Job
from clipfeed.media.pipeline import run_job
from clipfeed.workers import run_role
from tests.helpers import wait_for
from tests.media.submit import SHARED, clip_row, ffprobe, submit, topic_events

pytestmark = pytest.mark.slow
EMBEDDED = pytest.mark.parametrize("stack", ["embedded"], indirect=True)
TEXT = {"texts": [{"text": "hello"}]}


def upload(path: Path, *, seconds: float = 3, keyframe_every: int = 25, crf: int = 26,
           maxrate_kbps: int | None = 4000) -> Path:
    """What the web app sends after compressing a phone video: 1080p H.264 at 25 fps, a keyframe
    every second, within the top rung's cap (Big Buck Bunny scaled up)."""
    if path.exists():
        return path
    cap = ["-maxrate", f"{maxrate_kbps}k", "-bufsize", f"{2 * maxrate_kbps}k"] if maxrate_kbps else []
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(SHARED / "bigbuckbunny.mp4"), "-t", str(seconds),
                    "-vf", "scale=1920:1080", "-c:v", "libx264", "-preset", "ultrafast", "-crf", str(crf), *cap,
                    "-g", str(keyframe_every), "-keyint_min", str(keyframe_every), "-sc_threshold", "0",
                    "-c:a", "aac", "-b:a", "128k", str(path)], check=True)
    return path


def packets(video: Path) -> list[str]:
    """Size and hash of every video packet, as stored (no decode)."""
    lines = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-map", "0:v", "-c", "copy", "-f", "framemd5",
                            "-"], capture_output=True, text=True, check=True).stdout.splitlines()
    return [",".join(part.strip() for part in line.split(",")[-2:]) for line in lines if not line.startswith("#")]


async def download(clip: Clip, folder: Path, *, services) -> Path:
    """The clip's published objects, in the store's layout."""
    async for info in services.blobs.list(f"clips/{clip.id}/"):
        target = folder / info.key
        target.parent.mkdir(parents=True, exist_ok=True)
        await services.blobs.download(info.key, target)
    return folder / "clips" / str(clip.id)


async def processed(source: Path, tmp_path: Path, *, services) -> tuple[Clip, Path]:
    """``source`` uploaded and processed to ready; the clip and its published objects."""
    event = await submit(source, services=services)
    assert await run_job(Job.from_event(event), services=services) == "ready"
    clip = await clip_row(int(event.key), services=services)
    return clip, await download(clip, tmp_path / "store", services=services)


def rendition(published: Path, name: str) -> Path:
    """A rendition's init segment and media segments joined into one file."""
    folder = published / "v" / name
    names = ["init.mp4", *(ln for ln in (folder / "index.m3u8").read_text().splitlines() if ln and ln[0] != "#")]
    joined = published / f"{name}.mp4"
    joined.write_bytes(b"".join((folder / n).read_bytes() for n in names))
    return joined


def cuts(published: Path, name: str) -> list[float]:
    return [float(d) for d in re.findall(r"#EXTINF:([0-9.]+)", (published / "v" / name / "index.m3u8").read_text())]


def keyframe_times(video: Path) -> list[float]:
    """From the first frame (an encoder's B-frame delay shifts them all alike)."""
    out = ffprobe(video, "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries", "frame=pts_time",
                  "-of", "csv=p=0")
    times = [float(t.split(",")[0]) for t in out.split()]
    return [round(t - times[0], 2) for t in times]


def assert_cut_alike(published: Path, clip: Clip) -> None:
    first = cuts(published, "1080")
    assert first[:2] == [1.0, 2.0]
    for name in clip.media["renditions"]:
        assert cuts(published, name) == pytest.approx(first, abs=0.002), name


def assert_plays(published: Path) -> None:
    master = (published / "hls" / "master.m3u8").read_text()
    assert len(re.findall("#EXT-X-STREAM-INF:", master)) == 5
    for variant in range(5):
        played = subprocess.run(["ffmpeg", "-v", "error", "-i", str(published / "hls" / "master.m3u8"), "-map",
                                 f"0:v:{variant}", "-map", "0:a:0", "-f", "null", "-"], capture_output=True, text=True)
        assert played.returncode == 0 and played.stderr == "", played.stderr


@EMBEDDED
async def test_an_upload_that_already_is_the_top_rung_is_published_as_it_is(tmp_path: Path, *, services) -> None:
    source = upload(tmp_path / "phone.mp4", seconds=5.3)
    clip, published = await processed(source, tmp_path, services=services)
    top = rendition(published, "1080")
    assert packets(top) == packets(source)
    assert keyframe_times(top) == keyframe_times(source)  # the browser's, one a second
    assert_cut_alike(published, clip)
    assert keyframe_times(rendition(published, "720")) == [0.0, 1.0, 3.0, 5.0]  # the ladder's
    # Announced as what it is: the source's profile (Constrained Baseline) and level.
    level = int(ffprobe(source, "-select_streams", "v:0", "-show_entries", "stream=level", "-of", "csv=p=0"))
    assert clip.media["renditions"]["1080"]["codec"] == f"avc1.42C0{level:02X}"
    assert f'CODECS="avc1.42C0{level:02X},mp4a.40.2"' in (published / "hls" / "master.m3u8").read_text()
    assert_plays(published)


def first_video_time(video: Path) -> float:
    out = ffprobe(video, "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-read_intervals", "%+#1",
                  "-of", "csv=p=0")
    return float(out.split()[0].strip(","))


@EMBEDDED
async def test_an_upload_whose_sound_starts_before_its_picture_is_copied_on_the_same_clock(
        tmp_path: Path, *, services) -> None:
    """The browser's MP4 writer stores AAC's priming as sound starting 21 ms before the picture;
    the copied rung must still start where the encoded ones do."""
    mp4 = upload(tmp_path / "phone.mp4", seconds=3)
    source = tmp_path / "early-sound.mkv"  # Matroska keeps a negative start as it is
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(mp4), "-itsoffset", "-0.05", "-i", str(mp4), "-map",
                    "0:v", "-map", "1:a", "-c", "copy", "-avoid_negative_ts", "disabled", str(source)], check=True)
    assert float(ffprobe(source, "-show_entries", "format=start_time", "-of", "csv=p=0")) < -0.04
    clip, published = await processed(source, tmp_path, services=services)
    top = rendition(published, "1080")
    assert packets(top) == packets(source)
    assert first_video_time(top) == pytest.approx(first_video_time(rendition(published, "720")), abs=0.005)
    assert_cut_alike(published, clip)


async def test_uploads_that_are_not_the_top_rung_as_is_are_refused_the_copy(tmp_path: Path) -> None:
    """What the web app could send but the ladder cannot copy: the decision alone (the encode
    that follows is the ladder every other clip gets, run end to end by the test below)."""
    cases = [(upload(tmp_path / "sparse.mp4", keyframe_every=125), None, "no keyframe at 1 s"),
             (upload(tmp_path / "fat.mp4", crf=4, maxrate_kbps=None), None, "on average"),
             (upload(tmp_path / "phone.mp4"), TEXT, "draws text")]
    for source, edits, expected in cases:
        probe = await prober.probe(source)
        verdict = await passthrough.decide(probe, transcode.make_plan(probe, source, edit_lists.parse(edits)))
        assert not verdict.copy and expected in verdict.reason, (source.name, verdict)


@EMBEDDED
@pytest.mark.settings(media_passthrough=False)
async def test_with_passthrough_turned_off_an_upload_that_is_the_top_rung_gets_every_rung_encoded(
        tmp_path: Path, *, services) -> None:
    source = upload(tmp_path / "phone.mp4")
    probe = await prober.probe(source)
    verdict = await passthrough.decide(probe, transcode.make_plan(probe, source, edit_lists.parse(None)),
                                       enabled=services.settings.media_passthrough)
    assert not verdict.copy and "turned off" in verdict.reason
    clip, published = await processed(source, tmp_path, services=services)
    top = rendition(published, "1080")
    assert packets(top) != packets(source)
    assert ffprobe(top, "-select_streams", "v:0", "-show_entries", "stream=profile", "-of", "csv=p=0").strip() == "High"
    assert keyframe_times(top) == [0.0, 1.0]  # the ladder's own (3 s: keyframes at 0 and 1 s)
    assert_cut_alike(published, clip)


async def test_phone_files_unlike_the_web_apps_uploads_are_not_copied(tmp_path: Path) -> None:
    plain = upload(tmp_path / "plain.mp4")
    rotated = tmp_path / "rotated.mp4"  # portrait as phones write it: landscape pixels, a display matrix
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90",
                    str(rotated)], check=True)
    vfr = tmp_path / "vfr.mp4"  # 25 fps, then every other frame dropped
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(plain), "-vf", "select='if(lt(t,1),1,not(mod(n,2)))'",
                    "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", str(vfr)], check=True)
    cases = [(plain, None, "rung already"), (plain, {"trim_start": 0.5}, "trims"),
             (plain, {"mute": True, "cover_time": 1.0}, "rung already"),
             (rotated, None, "turned by"), (vfr, None, "not a constant")]
    for source, edits, expected in cases:
        probe = await prober.probe(source)
        verdict = await passthrough.decide(probe, transcode.make_plan(probe, source, edit_lists.parse(edits)))
        assert expected in verdict.reason, (source.name, edits, verdict)


# Chunks of 2 s past 3 s: a 5.3 s clip in three chunks (0-1, 1-3, 3-5.3 s).
@EMBEDDED
@pytest.mark.settings(media_chunk_after_s=3.0, media_chunk_s=2.0)
async def test_a_long_upload_copies_its_top_rung_beside_the_chunks_of_the_others(
        tmp_path: Path, *, services) -> None:
    source = upload(tmp_path / "phone.mp4", seconds=5.3)
    event = await submit(source, services=services)
    clip_id = int(event.key)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_role("media", stop, services=services))
    try:
        async def ready() -> bool:
            return (await clip_row(clip_id, services=services)).status == "ready"

        await wait_for(ready, 300)
    finally:
        stop.set()
        await worker
    chunks = await topic_events("media.chunks", clip_id, services=services)
    assert len(chunks) == 3 and all(c.payload["copy_top"] for c in chunks)
    clip = await clip_row(clip_id, services=services)
    published = await download(clip, tmp_path / "store", services=services)
    assert packets(rendition(published, "1080")) == packets(source)
    assert keyframe_times(rendition(published, "480")) == [0.0, 1.0, 3.0, 5.0]
    assert_cut_alike(published, clip)
    assert_plays(published)
