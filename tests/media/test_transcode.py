"""The single-decode ladder and its packaging, checked with ffprobe and FFmpeg itself."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from clipfeed.infra.blobs import open_blob_store
from clipfeed.media import ladder, transcode
from clipfeed.media import probe as prober
from clipfeed.media.edits import EditList
from clipfeed.media.publish import Publisher
from tests.media.submit import SHARED, ffprobe, make_clip

pytestmark = pytest.mark.slow


async def produce(source: Path, root: Path, edits: EditList | None = None) -> tuple[Path, dict[str, Any], Any]:
    """Encode and publish ``source`` to a local store; returns the clip folder, pointers, report."""
    store, work = root / "store", root / "work"
    work.mkdir(parents=True)
    plan = transcode.make_plan(await prober.probe(source), source, edits or EditList())
    measured = await transcode.measure_audio(plan, work)
    plan = replace(plan, gain_db=transcode.loudness_gain(measured.loudness_lufs))
    publisher = Publisher(open_blob_store(f"file://{store}"), "clips/1/", work / "out", plan.rungs, plan.fps,
                          plan.has_audio)
    encoding = asyncio.ensure_future(transcode.encode(plan, work / "out", work))
    await publisher.follow(encoding)
    report = await encoding
    media = await publisher.finish(plan.duration, work)
    return store / "clips" / "1", media, report


def joined(folder: Path, out: Path) -> Path:
    names = ["init.mp4"] + [ln for ln in (folder / "index.m3u8").read_text().splitlines()
                            if ln and not ln.startswith("#")]
    with out.open("wb") as target:
        for name in names:
            target.write((folder / name).read_bytes())
    return out


def keyframe_times(path: Path) -> list[float]:
    """Keyframe times from the first frame (the B-frame delay shifts them all alike)."""
    out = ffprobe(path, "-select_streams", "v:0", "-skip_frame", "nokey", "-show_entries", "frame=pts_time",
                  "-of", "csv=p=0")
    times = [float(x.split(",")[0]) for x in out.split()]
    return [round(t - times[0], 3) for t in times]


def stream_info(path: Path) -> dict[str, Any]:
    return json.loads(ffprobe(path, "-show_entries", "stream=width,height,codec_name,profile,r_frame_rate,"
                              "avg_frame_rate:format=duration,bit_rate", "-of", "json"))


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Any, Path]:
    root = tmp_path_factory.mktemp("landscape")
    source = make_clip(root / "src.mp4", size="1920x1080", seconds=5, rate=30)
    folder, media, report = asyncio.run(produce(source, root))
    return folder, media, report, root


def test_a_1080p_clip_gets_five_h264_renditions_within_their_bitrate_caps(landscape) -> None:
    folder, media, _, root = landscape
    assert list(media["renditions"]) == ["1080", "720", "480", "360", "240"]
    for rung in ladder.PROFILES:
        info = stream_info(joined(folder / "v" / rung.name, root / f"{rung.name}.mp4"))
        stream = info["streams"][0]
        assert stream["codec_name"] == "h264" and stream["profile"] in ("High", "Main")
        assert (stream["width"], stream["height"]) == (media["renditions"][rung.name]["width"],
                                                      media["renditions"][rung.name]["height"])
        assert min(stream["width"], stream["height"]) == rung.short_side
        kbps = int(info["format"]["bit_rate"]) / 1000
        assert 0.05 * rung.maxrate_kbps < kbps <= rung.maxrate_kbps * 1.1, (rung.name, kbps)


def test_keyframes_are_aligned_across_renditions_with_a_short_first_segment(landscape) -> None:
    folder, _, _, root = landscape
    times = {r.name: keyframe_times(joined(folder / "v" / r.name, root / f"k{r.name}.mp4")) for r in ladder.PROFILES}
    assert times["1080"] == [0.0, 1.0, 3.0]  # 5 s: keyframes at 0, 1, 3 (the last GOP runs to the end)
    assert all(t == times["1080"] for t in times.values())
    for rung in ladder.PROFILES:
        durations = re.findall(r"#EXTINF:([0-9.]+)", (folder / "v" / rung.name / "index.m3u8").read_text())
        assert [round(float(d), 3) for d in durations] == [1.0, 2.0, 2.0]


def test_hls_master_carries_every_attribute_and_ffmpeg_plays_it_to_the_end(landscape) -> None:
    folder, _, _, _ = landscape
    master = (folder / "hls" / "master.m3u8").read_text()
    variants = [ln for ln in master.splitlines() if ln.startswith("#EXT-X-STREAM-INF:")]
    assert len(variants) == 5
    for line in variants:
        for attribute in ("BANDWIDTH=", "AVERAGE-BANDWIDTH=", "RESOLUTION=", "CODECS=\"avc1.", "FRAME-RATE=30.000",
                          'AUDIO="aac"'):
            assert attribute in line
    assert "mp4a.40.2" in master and "#EXT-X-MEDIA:TYPE=AUDIO" in master
    played = subprocess.run(["ffmpeg", "-v", "error", "-i", str(folder / "hls" / "master.m3u8"), "-map", "0:v:0",
                             "-map", "0:a:0", "-f", "null", "-"], capture_output=True, text=True)
    assert played.returncode == 0 and played.stderr == ""
    out = ffprobe(folder / "mp4" / "fallback.mp4", "-show_entries", "format=duration", "-of", "csv=p=0")
    assert float(out) == pytest.approx(5.0, abs=0.15)


def test_dash_manifest_points_at_the_same_segments_and_decodes(landscape) -> None:
    folder, _, _, _ = landscape
    ns = {"d": "urn:mpeg:dash:schema:mpd:2011"}
    mpd = ET.parse(folder / "dash" / "manifest.mpd").getroot()
    reps = mpd.findall(".//d:Representation", ns)
    assert {r.get("id") for r in reps} == {"1080", "720", "480", "360", "240", "audio"}
    template = mpd.find(".//d:Representation[@id='720']/d:SegmentTemplate", ns)
    assert template is not None and template.get("media") == "v/720/seg_$Number%05d$.m4s"
    assert [s.get("d") for s in template.findall(".//d:S", ns)] == ["1000", "2000"]
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(folder / "dash" / "manifest.mpd"), "-map", "0:v:0",
                              "-f", "null", "-"], capture_output=True, text=True)
    assert decoded.returncode == 0, decoded.stderr


def test_fallback_mp4_is_a_faststart_copy_of_the_360p_rung(landscape) -> None:
    folder, _, _, _ = landscape
    data = (folder / "mp4" / "fallback.mp4").read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    stream = stream_info(folder / "mp4" / "fallback.mp4")["streams"]
    assert {(s.get("width"), s.get("height")) for s in stream if s["codec_name"] == "h264"} == {(640, 360)}
    assert any(s["codec_name"] == "aac" for s in stream)


async def test_a_phone_clip_rotated_by_its_display_matrix_comes_out_upright_and_portrait(tmp_path: Path) -> None:
    plain = make_clip(tmp_path / "plain.mp4", size="640x360", seconds=2)
    source = tmp_path / "rot.mp4"  # what phones write: landscape pixels and a display matrix
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90",
                    str(source)], check=True)
    assert (await prober.probe(source)).main_video.rotation in (90, 270)
    _, media, _ = await produce(source, tmp_path)
    assert [(r["width"], r["height"]) for r in media["renditions"].values()] == [(360, 640), (240, 426)]


async def test_variable_frame_rate_and_odd_rates_become_constant(tmp_path: Path) -> None:
    vfr = tmp_path / "vfr.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "3",
                    "-vf", "select='if(lt(t,1.5),1,not(mod(n,2)))'", "-fps_mode", "vfr", "-c:v", "libx264",
                    "-preset", "ultrafast", str(vfr)], check=True)  # 30 fps, then 15 fps
    assert (await prober.probe(vfr)).main_video.variable_frame_rate
    folder, _, _ = await produce(vfr, tmp_path / "a")
    rates = stream_info(joined(folder / "v" / "240", tmp_path / "v.mp4"))["streams"][0]
    assert rates["r_frame_rate"] == rates["avg_frame_rate"] == "23/1"  # the average (22.6), held constant
    folder, _, _ = await produce(SHARED / "cup.mp4", tmp_path / "b")  # ~26.78 fps
    cup = stream_info(joined(folder / "v" / "480", tmp_path / "c.mp4"))["streams"][0]
    assert cup["avg_frame_rate"] == "27/1"
    assert keyframe_times(tmp_path / "c.mp4")[:3] == [0.0, 1.0, 3.0]


async def test_a_clip_without_sound_has_no_audio_group_and_a_4k_clip_stops_at_1080(tmp_path: Path) -> None:
    folder, media, _ = await produce(SHARED / "bikes.mp4", tmp_path / "a")
    assert media["audio"] is None and "#EXT-X-MEDIA" not in (folder / "hls" / "master.m3u8").read_text()
    uhd = make_clip(tmp_path / "uhd.mp4", size="3840x2160", seconds=1, audio=False)
    _, media, _ = await produce(uhd, tmp_path / "b")
    assert next(iter(media["renditions"].values()))["height"] == 1080
