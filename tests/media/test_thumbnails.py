"""Posters, sprite sheet with its WebVTT index, and previews, on generated and real clips."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from clipfeed.demo.content import package_video
from clipfeed.media import thumbnails
from clipfeed.media.probe import probe
from tests.media import clipgen

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("thumb-clips")


def _luma(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"), dtype=np.float32)


def _sharpness(y: np.ndarray) -> float:
    return float((4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]).var())


async def _make(source: Path, workdir: Path, cover_time: float | None = None) -> dict[str, Path]:
    return await thumbnails.make(source=source, workdir=workdir, probe=await probe(source), cover_time=cover_time)


async def test_poster_is_never_the_black_opening_when_a_good_frame_follows(clips: Path, tmp_path: Path) -> None:
    # 4 s of black (a typical fade-in or lens cap), then 2 s of picture.
    clip = clipgen.sequence(clips / "black-then-pattern.mp4", ["color=black", "color=black", "testsrc2"], seconds=2)
    made = await _make(clip, tmp_path)
    poster = _luma(made["poster_360.jpg"])
    assert poster.mean() > 60 and poster.std() > 30  # testsrc2's colourful pattern, not black


async def test_poster_prefers_a_sharp_frame_over_a_blurred_one(clips: Path, tmp_path: Path) -> None:
    # The first 4 s are the same pattern heavily blurred (out of focus), the last 2 s sharp.
    blurred, sharp = "testsrc2=s=320x240,boxblur=12:3", "testsrc2=s=320x240"
    clip = clipgen.sequence(clips / "blur-then-sharp.mp4", [blurred, blurred, sharp], seconds=2)
    made = await _make(clip, tmp_path)
    reference = clips / "sharp.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", sharp, "-frames:v", "1", str(reference)],
                   check=True)
    blurred_png = clips / "blurred.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", blurred, "-frames:v", "1",
                    str(blurred_png)], check=True)
    poster = _sharpness(_luma(made["poster_720.webp"]))
    assert poster > 0.5 * _sharpness(_luma(reference))
    assert poster > 5 * _sharpness(_luma(blurred_png))


async def test_creator_cover_time_is_used_as_given(clips: Path, tmp_path: Path) -> None:
    clip = clipgen.sequence(clips / "red-then-blue.mp4", ["color=red", "color=blue"], seconds=3)
    red = await _make(clip, tmp_path / "red", cover_time=1.0)
    blue = await _make(clip, tmp_path / "blue", cover_time=4.5)
    with Image.open(red["poster_180.jpg"]) as r, Image.open(blue["poster_180.jpg"]) as b:
        red_px, blue_px = np.asarray(r.convert("RGB")).mean(axis=(0, 1)), np.asarray(b.convert("RGB")).mean(axis=(0, 1))
    assert red_px[0] > 200 and red_px[2] < 50
    assert blue_px[2] > 200 and blue_px[0] < 50


async def test_posters_come_in_three_short_side_sizes_as_webp_and_jpeg_never_upscaled(clips: Path,
                                                                                     tmp_path: Path) -> None:
    portrait = clipgen.make(clips / "portrait.mp4", "testsrc2=s=720x1280", seconds=2)
    made = await _make(portrait, tmp_path / "portrait")
    for short_side, size in ((720, (720, 1280)), (360, (360, 640)), (180, (180, 320))):
        for ext, kind in (("webp", "WEBP"), ("jpg", "JPEG")):
            with Image.open(made[f"poster_{short_side}.{ext}"]) as image:
                assert image.format == kind and image.size == size
    tiny = await _make(package_video("carphone_pristine.mp4"), tmp_path / "tiny")  # 176x144 source
    for short_side in thumbnails.POSTER_SHORT_SIDES:
        with Image.open(tiny[f"poster_{short_side}.webp"]) as image:
            assert image.size == ((176, 144) if short_side > 144 else (round(176 * short_side / 144), short_side))


async def test_sprite_sheet_matches_its_webvtt_index(tmp_path: Path) -> None:
    source = package_video("bikes.mp4")  # 10 s, 640x272
    made = await _make(source, tmp_path)
    vtt = made["sprite.vtt"].read_text()
    assert vtt.startswith("WEBVTT\n")
    stamp = r"(\d\d):(\d\d):(\d\d\.\d{3})"
    cues = re.findall(stamp + " --> " + stamp + r"\n(\S+)#xywh=(\d+),(\d+),(\d+),(\d+)", vtt)
    assert len(cues) == math.ceil(10.0 / 1.0)
    with Image.open(made["sprite.jpg"]) as sprite:
        width, height = sprite.size
        tiles = np.asarray(sprite.convert("L"), dtype=np.float32)
    previous_end = 0.0
    for h1, m1, s1, h2, m2, s2, url, x, y, w, h in cues:
        start, end = int(h1) * 3600 + int(m1) * 60 + float(s1), int(h2) * 3600 + int(m2) * 60 + float(s2)
        assert url == "sprite.jpg"  # relative: resolved next to the .vtt
        assert start == pytest.approx(previous_end) and end > start
        previous_end = end
        x, y, w, h = int(x), int(y), int(w), int(h)
        assert (w, h) == (160, 68) and x + w <= width and y + h <= height
        assert tiles[y:y + h, x:x + w].std() > 10  # every tile holds picture
    assert previous_end == pytest.approx(10.0, abs=0.05)


async def test_previews_are_a_playable_mp4_loop_and_an_animated_webp(tmp_path: Path) -> None:
    made = await _make(package_video("bigbuckbunny.mp4"), tmp_path)
    report = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
         str(made["preview.mp4"])], check=True, capture_output=True).stdout)
    assert [s["codec_type"] for s in report["streams"]] == ["video"]  # muted
    assert report["streams"][0]["codec_name"] == "h264" and report["streams"][0]["width"] == 320
    assert 2.5 <= float(report["format"]["duration"]) <= 3.5
    decoded = subprocess.run(["ffmpeg", "-v", "error", "-i", str(made["preview.mp4"]), "-f", "null", "-"],
                             capture_output=True)
    assert decoded.returncode == 0 and not decoded.stderr
    with Image.open(made["preview.webp"]) as webp:
        assert webp.format == "WEBP" and webp.is_animated and webp.n_frames >= 25
        assert max(webp.size) == 320
