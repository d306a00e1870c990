"""Posters, a scrubbing sprite with its WebVTT index, and a short animated preview.

What ``make`` writes into ``workdir`` (the pipeline uploads each under ``clips/{id}/img/``):

- ``poster_720.webp`` / ``.jpg``, ``poster_360.*``, ``poster_180.*``: the poster. The number is
  the *short* side in pixels, so portrait and landscape clips get the same sharpness class;
  never larger than the source (a 176×144 clip gets 176×144 in every class).
- ``sprite.jpg``: one tile every second (longer past 100 s, so at most 100 tiles), each fitted
  in 160×160, 10 tiles per row.
- ``sprite.vtt``: WebVTT cues ``sprite.jpg#xywh=x,y,w,h`` per tile; the URL is relative, so it
  works wherever both files are served from the same directory.
- ``preview.webp``: an animated WebP loop (3 s at 10 fps, long side 320, starting 1 s before
  the poster frame) for ``<img>`` in grids.
- ``preview.mp4``: the same 3 s as a muted H.264 loop with faststart for ``<video>``; about a
  tenth of the WebP's size.

Poster choice (when the creator gave no ``cover_time``): 24 candidate frames spread over the clip
are scored on a 320-pixel copy. Frames that are nearly black (mean luma < 24), washed out
(> 235) or flat (luma standard deviation < 12) are out. The rest score
``0.5·sharpness + 0.2·contrast + 0.15·colourfulness + 0.15·exposure``, where sharpness is the
variance of the Laplacian on a log scale relative to the sharpest candidate of the same clip
(so blurred frames of motion or focus pulls lose), contrast is the luma standard deviation,
colourfulness is Hasler and Süsstrunk's measure and exposure is the distance of mean luma from
mid-grey. If no candidate passes (a clip that is dark throughout), the brightest, most varied
one is taken. The winner is then decoded again at full resolution by an accurate seek.

Everything here is idempotent: files are overwritten, so a redelivered job simply redoes it.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from clipfeed.media.frames import Frames, Sampling, display_size, fit, luma, run_ffmpeg, sample, spread
from clipfeed.media.probe import Probe

POSTER_SHORT_SIDES = (720, 360, 180)
POSTER_CANDIDATES = 24
SCORING_BOX = 320
SPRITE_TILE_BOX = 160
SPRITE_COLUMNS = 10
SPRITE_MAX_TILES = 100
SPRITE_MIN_INTERVAL = 1.0
PREVIEW_SECONDS = 3.0
PREVIEW_FPS = 10
PREVIEW_BOX = 320
WEBP_QUALITY = 80
JPEG_QUALITY = 85
SPRITE_QUALITY = 70


@dataclass(frozen=True)
class FrameScore:
    time: float
    usable: bool
    score: float


def frame_quality(frames: Frames) -> list[FrameScore]:
    """Score each frame for use as a poster (see the module docstring); higher is better."""
    if not len(frames):
        return []
    y = luma(frames.pixels)
    means, stds = y.mean(axis=(1, 2)), y.std(axis=(1, 2))
    lap = (4 * y[:, 1:-1, 1:-1] - y[:, :-2, 1:-1] - y[:, 2:, 1:-1] - y[:, 1:-1, :-2] - y[:, 1:-1, 2:])
    sharpness = np.log1p(lap.var(axis=(1, 2)))
    rgb = frames.pixels.astype(np.float32)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    colour = (np.sqrt(rg.std(axis=(1, 2)) ** 2 + yb.std(axis=(1, 2)) ** 2)
              + 0.3 * np.sqrt(rg.mean(axis=(1, 2)) ** 2 + yb.mean(axis=(1, 2)) ** 2))
    usable = (means >= 24) & (means <= 235) & (stds >= 12)
    top_sharpness = float(sharpness[usable].max()) if usable.any() else float(sharpness.max())
    scores = (0.5 * sharpness / max(top_sharpness, 1e-6) + 0.2 * np.minimum(stds / 64, 1.0)
              + 0.15 * np.minimum(colour / 100, 1.0) + 0.15 * (1 - np.abs(means - 128) / 128))
    return [FrameScore(time=t, usable=bool(u), score=float(s))
            for t, u, s in zip(frames.times, usable, scores, strict=True)]


def best_time(scores: list[FrameScore], frames: Frames) -> float:
    usable = [s for s in scores if s.usable]
    if usable:
        return max(usable, key=lambda s: s.score).time
    y = luma(frames.pixels)  # nothing passes: the brightest, most varied frame is the least bad
    return frames.times[int(np.argmax(y.mean(axis=(1, 2)) + y.std(axis=(1, 2))))]


async def make(*, source: Path, workdir: Path, probe: Probe, cover_time: float | None) -> dict[str, Path]:
    """Write posters, the sprite with its VTT and the previews into ``workdir``.

    ``source`` is the picture viewers will see (after edits); ``cover_time`` (seconds, in the
    source's timeline) is the creator's chosen cover frame, clamped into the clip; without it
    the frame-quality heuristic picks. Returns file name -> path for every file written
    (names listed in the module docstring). Raises ``MediaToolError`` if FFmpeg fails."""
    workdir.mkdir(parents=True, exist_ok=True)
    duration = max(probe.duration, 0.04)
    interval = max(SPRITE_MIN_INTERVAL, duration / SPRITE_MAX_TILES)
    sampled = await sample(source, probe=probe, workdir=workdir, samplings=[
        Sampling("candidates", spread(duration, POSTER_CANDIDATES), SCORING_BOX),
        Sampling("tiles", interval, SPRITE_TILE_BOX)])
    candidates = sampled["candidates"]
    if cover_time is not None:
        poster_at = min(max(cover_time, 0.0), max(duration - 0.05, 0.0))
    elif len(candidates):
        scores = await asyncio.to_thread(frame_quality, candidates)  # numpy over every candidate frame
        poster_at = min(best_time(scores, candidates), max(duration - 0.05, 0.0))
    else:
        poster_at = 0.0
    written = await _posters(source, workdir, probe, poster_at)
    # Pillow's resizing and encoding take a few hundred ms: off the event loop.
    written.update(await asyncio.to_thread(_sprite, sampled["tiles"], workdir, interval, duration))
    written.update(await _previews(source, workdir, probe, poster_at, duration))
    return written


async def _posters(source: Path, workdir: Path, probe: Probe, at: float) -> dict[str, Path]:
    still = workdir / "poster-full.ppm"
    await run_ffmpeg("-v", "error", "-ss", f"{at:.3f}", "-i", str(source), "-frames:v", "1",
                     "-update", "1", "-c:v", "ppm", str(still))
    return await asyncio.to_thread(_encode_posters, still, workdir, display_size(probe))


def _encode_posters(still: Path, workdir: Path, size: tuple[int, int]) -> dict[str, Path]:
    written: dict[str, Path] = {}
    with Image.open(still) as opened:
        image = opened.convert("RGB")
    still.unlink(missing_ok=True)
    width, height = size
    if image.size != (width, height):  # non-square pixels: show what players show
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    for short_side in POSTER_SHORT_SIDES:
        scale = min(1.0, short_side / min(width, height))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
        for ext, options in (("webp", {"quality": WEBP_QUALITY, "method": 4}),
                             ("jpg", {"quality": JPEG_QUALITY, "optimize": True, "progressive": True})):
            path = workdir / f"poster_{short_side}.{ext}"
            resized.save(path, **options)  # type: ignore[arg-type]
            written[path.name] = path
    return written


def _sprite(tiles: Frames, workdir: Path, interval: float, duration: float) -> dict[str, Path]:
    count = len(tiles) or 1
    tile_h, tile_w = tiles.pixels.shape[1:3] if len(tiles) else (90, 160)
    columns = min(SPRITE_COLUMNS, count)
    rows = math.ceil(count / columns)
    sheet = Image.new("RGB", (columns * tile_w, rows * tile_h))
    cues = ["WEBVTT", ""]
    for k in range(count):
        x, y = (k % columns) * tile_w, (k // columns) * tile_h
        if len(tiles):
            sheet.paste(Image.fromarray(tiles.pixels[k]), (x, y))
        start, end = k * interval, duration if k == count - 1 else min((k + 1) * interval, duration)
        cues += [f"{_vtt_time(start)} --> {_vtt_time(max(end, start + 0.001))}",
                 f"sprite.jpg#xywh={x},{y},{tile_w},{tile_h}", ""]
    sprite, index = workdir / "sprite.jpg", workdir / "sprite.vtt"
    sheet.save(sprite, quality=SPRITE_QUALITY, optimize=True)
    index.write_text("\n".join(cues), encoding="utf-8")
    return {sprite.name: sprite, index.name: index}


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


async def _previews(source: Path, workdir: Path, probe: Probe, poster_at: float,
                    duration: float) -> dict[str, Path]:
    start = min(max(poster_at - 1.0, 0.0), max(duration - PREVIEW_SECONDS, 0.0))
    width, height = fit(display_size(probe), PREVIEW_BOX)
    scale = f"fps={PREVIEW_FPS},scale={width}:{height}:flags=bicubic"
    webp, mp4 = workdir / "preview.webp", workdir / "preview.mp4"
    await run_ffmpeg(
        "-v", "error", "-ss", f"{start:.3f}", "-t", f"{PREVIEW_SECONDS:.3f}", "-i", str(source),
        "-map", "0:v:0", "-an", "-vf", scale, "-c:v", "libwebp", "-loop", "0", "-q:v", "40",
        "-compression_level", "4", str(webp),
        "-map", "0:v:0", "-an", "-vf", f"{scale},format=yuv420p", "-c:v", "libx264", "-preset", "veryfast",
        "-crf", "30", "-profile:v", "main", "-movflags", "+faststart", str(mp4))
    return {webp.name: webp, mp4.name: mp4}
