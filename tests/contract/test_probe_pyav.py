"""PyAV's probe against ffprobe's: the same ``Probe`` and the same verdict on every sample.

Every file of the shared media folder (and ``bad/``), plus clips made here for what the samples
lack: a display matrix, an H.264 orientation SEI message, Matroska, WebM, MPEG-TS and PS, HEVC,
AV1, cover art, a variable frame rate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import pytest

from clipfeed.media import probe as ffprobe
from clipfeed.media import prober, pyav_probe
from clipfeed.settings import Settings
from clipfeed.uploads import validation
from tests.services import shared_media

_CLIP = ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15", "-f", "lavfi", "-i", "sine=frequency=440",
         "-t", "1", "-shortest"]
_H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]
# name -> (source made first or None, FFmpeg arguments between the input and the output)
_MADE: dict[str, tuple[str | None, list[str]]] = {
    "h264.mp4": (None, [*_CLIP, *_H264]),
    "rotated-90.mp4": ("h264.mp4", ["-c", "copy", "-metadata:s:v:0", "rotate=90"]),
    "rotated-180.mp4": ("h264.mp4", ["-c", "copy", "-metadata:s:v:0", "rotate=180"]),
    "rotated-270.mp4": ("h264.mp4", ["-c", "copy", "-metadata:s:v:0", "rotate=270"]),
    # Orientation in the bitstream only: ffprobe's stream report ignores it, so must we.
    "sei-rotated.mp4": ("h264.mp4", ["-c", "copy", "-bsf:v", "h264_metadata=display_orientation=insert:rotate=90"]),
    "sei-and-matrix.mp4": ("rotated-270.mp4", ["-c", "copy", "-bsf:v",
                                               "h264_metadata=display_orientation=insert:rotate=90"]),
    "hevc.mov": (None, [*_CLIP, "-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1", "-c:a", "aac"]),
    "hevc-rotated.mov": ("hevc.mov", ["-c", "copy", "-metadata:s:v:0", "rotate=90"]),
    "av1.mp4": (None, [*_CLIP, "-c:v", "libaom-av1", "-cpu-used", "8", "-c:a", "aac"]),
    "vp9-opus.webm": (None, [*_CLIP, "-c:v", "libvpx-vp9", "-deadline", "realtime", "-c:a", "libopus"]),
    "h264.mkv": (None, [*_CLIP, *_H264]),
    "h264.ts": (None, [*_CLIP, *_H264]),
    "mpeg2.mpg": (None, [*_CLIP, "-c:v", "mpeg2video", "-c:a", "mp2"]),
    "h264-mp3.avi": ("h264.mp4", ["-c:v", "copy", "-c:a", "libmp3lame"]),
    "variable-rate.mp4": (None, ["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-t", "2", "-vf",
                                 "setpts='if(lt(N,20),N/30,(N-20)/10+20/30)/TB'", "-fps_mode", "vfr", *_H264]),
}
# Rotated, in a codec whose bitstream may carry an orientation PyAV cannot set apart: ffprobe's.
_FFPROBE_DECIDES = {"hevc-rotated.mov"}


def _shared() -> list[str]:
    media = shared_media()
    return sorted(str(p.relative_to(media)) for p in [*media.glob("*"), *media.glob("bad/*")]
                  if p.is_file() and p.suffix != ".md")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    made = tmp_path_factory.mktemp("probe-samples")
    paths = {name: shared_media() / name for name in _shared()}
    cover = made / "cover.png"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1",
                    str(cover)], check=True)
    for name, (source, args) in _MADE.items():  # in order: a source is made before its copies
        inputs = ["-i", str(made / source)] if source else []
        subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, *args, str(made / name)], check=True)
        paths[name] = made / name
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(made / "h264.mp4"), "-i", str(cover), "-map", "0",
                    "-map", "1", "-c", "copy", "-c:v:1", "png", "-disposition:v:1", "attached_pic",
                    str(made / "cover-art.mp4")], check=True)
    paths["cover-art.mp4"] = made / "cover-art.mp4"
    return paths


_ALL = [*_shared(), *_MADE, "cover-art.mp4"]


def _comparable(report: ffprobe.Probe) -> dict[str, Any]:
    """The fields, floats rounded to the millisecond (ffprobe prints six decimals)."""
    def rounded(value: Any) -> Any:
        return round(value, 3) if isinstance(value, float) else value
    fields = dataclasses.asdict(report)
    return {key: [{k: rounded(v) for k, v in s.items()} for s in value] if isinstance(value, list)
            else rounded(value) for key, value in fields.items()}


async def _outcome(read: Any, path: Path) -> dict[str, Any] | str:
    try:
        return _comparable(await read(path))
    except ffprobe.ProbeError as exc:
        return f"refused: {exc}"


@pytest.mark.parametrize("name", _ALL)
async def test_pyav_reads_each_sample_as_ffprobe_does(name: str, samples: dict[str, Path]) -> None:
    path = samples[name]
    expected = await _outcome(ffprobe.probe, path)
    try:
        in_process = await _outcome(lambda p: asyncio.to_thread(pyav_probe.read, p, timeout=60.0), path)
    except pyav_probe.NeedsFfprobe:
        assert name in _FFPROBE_DECIDES, f"PyAV deferred to ffprobe on {name}"
    else:
        assert name not in _FFPROBE_DECIDES
        assert in_process == expected
    assert await _outcome(prober.probe, path) == expected


@pytest.mark.parametrize("name", _ALL)
async def test_upload_validation_gives_the_same_verdict_with_either_prober(
        name: str, samples: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(log_json=False)

    async def verdict() -> str:
        try:
            accepted = await validation.check(samples[name], settings=settings)
        except validation.UnacceptableFile as exc:
            return f"refused: {exc.reason}"
        return f"accepted as {accepted.container}, {_comparable(accepted.probe)}"

    in_process = await verdict()
    monkeypatch.setattr(validation, "probe", ffprobe.probe)
    assert in_process == await verdict()


async def test_the_rotation_ffprobe_reports_is_the_one_read_in_process(samples: dict[str, Path]) -> None:
    rotations = {name: (await prober.probe(samples[name])).video[0].rotation
                 for name in ("h264.mp4", "rotated-90.mp4", "rotated-180.mp4", "rotated-270.mp4",
                              "sei-rotated.mp4", "hevc-rotated.mov")}
    assert len(set(rotations.values())) == 4, rotations  # the samples do exercise every angle
    assert rotations["sei-rotated.mp4"] == rotations["h264.mp4"] == 0


async def test_a_probe_that_outlasts_its_timeout_is_refused_in_words(samples: dict[str, Path]) -> None:
    with pytest.raises(ffprobe.ProbeError, match="took too long"):
        await prober.probe(samples["bigbuckbunny.mp4"], timeout=1e-6)
