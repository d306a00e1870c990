"""Decoded frames for the image checks: one FFmpeg run samples a clip at several rates and
sizes at once (``split``), each branch written as raw RGB to a file we map with numpy.

Thumbnails, screening and metadata each need a handful of small frames, never the whole clip
in memory; decoding once per step and scaling inside FFmpeg keeps that cheap. Frames come out
in display orientation (FFmpeg applies the rotation matrix while decoding).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clipfeed.media.ffmpeg import below_the_api
from clipfeed.media.probe import Probe


class MediaToolError(RuntimeError):
    """FFmpeg failed on a file the probe accepted (corrupt data, killed, out of disk)."""


@dataclass(frozen=True)
class Sampling:
    """Frames every ``interval`` seconds, fitted into a ``box``-pixel square (long side)."""

    name: str
    interval: float
    box: int

    def size(self, probe: Probe) -> tuple[int, int]:
        return fit(display_size(probe), self.box)


@dataclass(frozen=True)
class Frames:
    times: list[float]
    pixels: np.ndarray  # (count, height, width, 3) uint8 RGB

    def __len__(self) -> int:
        return len(self.times)


def display_size(probe: Probe) -> tuple[int, int]:
    video = probe.main_video
    if video is None or video.width <= 0 or video.height <= 0:
        raise MediaToolError("the file has no picture")
    return video.display_size


def fit(size: tuple[int, int], box: int) -> tuple[int, int]:
    """``size`` scaled so its long side is at most ``box`` (never up), both sides even."""
    width, height = size
    scale = min(1.0, box / max(width, height))
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def spread(duration: float, count: int) -> float:
    """The interval that samples about ``count`` frames over ``duration`` seconds."""
    return max(duration, 0.04) / max(1, count)


async def run_ffmpeg(*args: str, timeout: float = 600.0, cwd: Path | None = None) -> str:
    """Run ffmpeg quietly; returns its stderr (filters such as ebur128 report there)."""
    proc = await asyncio.create_subprocess_exec(
        "ffmpeg", "-nostdin", "-hide_banner", "-y", *args, cwd=cwd,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, preexec_fn=below_the_api)
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError):
        proc.kill()
        await proc.wait()
        raise
    text = err.decode(errors="replace")
    if proc.returncode != 0:
        tail = " | ".join(text.strip().splitlines()[-3:])
        raise MediaToolError(f"ffmpeg failed ({proc.returncode}): {tail}")
    return text


async def sample(source: Path, *, probe: Probe, workdir: Path,
                 samplings: list[Sampling]) -> dict[str, Frames]:
    """Decode ``source`` once and return, per sampling, the frames nearest ``k * interval``."""
    workdir.mkdir(parents=True, exist_ok=True)
    branches = [f"[s{i}]fps=1/{s.interval:.6f}:start_time=0:round=near,"
                f"scale={s.size(probe)[0]}:{s.size(probe)[1]}:flags=area,format=rgb24[o{i}]"
                for i, s in enumerate(samplings)]
    graph = f"[0:v:0]split={len(samplings)}" + "".join(f"[s{i}]" for i in range(len(samplings)))
    graph += ";" + ";".join(branches)
    outputs: list[str] = []
    for i, s in enumerate(samplings):
        outputs += ["-map", f"[o{i}]", "-f", "rawvideo", str(workdir / f"frames-{s.name}.rgb")]
    await run_ffmpeg("-v", "error", "-i", str(source),
                     "-filter_complex", graph, *outputs)
    result: dict[str, Frames] = {}
    for s in samplings:
        width, height = s.size(probe)
        path = workdir / f"frames-{s.name}.rgb"
        raw = np.fromfile(path, dtype=np.uint8)
        path.unlink(missing_ok=True)
        count = raw.size // (width * height * 3)
        pixels = raw[:count * width * height * 3].reshape(count, height, width, 3)
        result[s.name] = Frames(times=[k * s.interval for k in range(count)], pixels=pixels)
    return result


def luma(pixels: np.ndarray) -> np.ndarray:
    """BT.601 luma of RGB frames as float32, same leading shape without the channel axis."""
    rgb = pixels.astype(np.float32)
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
