"""What a clip is about and how it looks and sounds: technical metadata, hashtags and mentions,
caption language, scene cuts, dominant colours, loudness and the content embedding.

One FFmpeg decode feeds three branches: scene-change detection (``select='gt(scene,0.4)'`` on
a 320-pixel copy: a cut is a frame whose scene score passes 0.4), 8 frames for colours and
visual features, and the EBU R128 meter (integrated loudness in LUFS; None without audio).
Dominant colours are k-means (k = 5, deterministic seeding) over the sampled pixels; clusters
under 3 % of the picture are dropped. The caption language comes from Lingua over the
languages in ``metadata_languages`` after hashtags, mentions and links are removed; it is None
when the text is too short or the best two languages are too close to call.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from clipfeed.clips.models import hashtags_in
from clipfeed.media import embedding as embeddings
from clipfeed.media import model_host
from clipfeed.media.frames import Frames, Sampling, display_size, fit, run_ffmpeg, spread
from clipfeed.media.probe import Probe
from clipfeed.settings import Settings

__all__ = ["MediaMetadata", "detect_language", "dominant_colours", "extract", "mentions_in"]

SCENE_THRESHOLD = 0.4
SCENE_BOX = 320
COLOUR_FRAMES = 8
COLOUR_BOX = 160
COLOURS = 5
MIN_COLOUR_SHARE = 0.03
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?)")
_NOISE = re.compile(r"[#@]\w+|https?://\S+|www\.\S+", re.UNICODE)
_LOUDNESS = re.compile(r"Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+|-inf) LUFS")


@dataclass
class MediaMetadata:
    technical: dict[str, Any]
    hashtags: list[str]
    mentions: list[str]
    language: str | None
    scene_cuts: int
    colours: list[dict[str, Any]]  # [{"hex": "#d01f1f", "share": 0.62}, ...] largest first
    loudness: float | None          # integrated LUFS; None when the clip has no audio
    embedding: np.ndarray = field(repr=False)  # float32, unit length, layout in clipfeed.media.embedding
    embedding_model: str = embeddings.EMBEDDING_MODEL


def technical(probe: Probe) -> dict[str, Any]:
    video, audio = probe.main_video, probe.main_audio
    width, height = video.display_size if video else (0, 0)
    return {"duration": round(probe.duration, 3), "width": width, "height": height,
            "rotation": video.rotation if video else 0, "fps": round(video.avg_fps or video.fps, 3) if video else 0,
            "video_codec": video.codec if video else None, "audio_codec": audio.codec if audio else None,
            "audio_channels": audio.channels if audio else 0, "bit_rate": probe.bit_rate, "size": probe.size,
            "container": probe.container, "has_audio": audio is not None}


def mentions_in(caption: str) -> list[str]:
    out: list[str] = []
    for handle in MENTION.findall(caption):
        handle = handle.lower()
        if handle not in out:
            out.append(handle)
    return out


@lru_cache(maxsize=4)
def _detector(languages: str) -> Any:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.strip().upper()))
              for code in languages.split(",") if code.strip()]
    return LanguageDetectorBuilder.from_languages(*chosen).with_minimum_relative_distance(0.1).build()


def detect_language(caption: str, *, languages: str) -> str | None:
    """ISO 639-1 code of the caption's language, or None when unsure (blocking: loads models)."""
    text = " ".join(_NOISE.sub(" ", caption).split())
    if sum(c.isalpha() for c in text) < 8:
        return None
    found = _detector(languages).detect_language_of(text)
    return None if found is None else str(found.iso_code_639_1.name).lower()


def detect_language_of(caption: str, languages: str) -> str | None:
    """``detect_language`` with positional arguments, for the model process."""
    return detect_language(caption, languages=languages)


def dominant_colours(frames: Frames, k: int = COLOURS, *, seed: int = 0) -> list[dict[str, Any]]:
    """k-means over the frames' pixels (k-means++ seeding with a fixed seed: deterministic)."""
    if not len(frames):
        return []
    pixels = frames.pixels.reshape(-1, 3).astype(np.float32)
    rng = np.random.default_rng(seed)
    if len(pixels) > 20_000:
        pixels = pixels[rng.choice(len(pixels), 20_000, replace=False)]
    centres = [pixels[rng.integers(len(pixels))]]
    for _ in range(1, k):
        nearest = np.min(((pixels[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        if nearest.sum() == 0:
            break
        centres.append(pixels[rng.choice(len(pixels), p=nearest / nearest.sum())])
    centre = np.array(centres)
    for _ in range(20):
        labels = ((pixels[:, None, :] - centre[None]) ** 2).sum(-1).argmin(axis=1)
        moved = np.array([pixels[labels == j].mean(axis=0) if (labels == j).any() else centre[j]
                          for j in range(len(centre))])
        if np.allclose(moved, centre, atol=0.5):
            break
        centre = moved
    shares = np.bincount(labels, minlength=len(centre)) / len(pixels)
    out = [{"hex": "#{:02x}{:02x}{:02x}".format(*np.clip(np.rint(c), 0, 255).astype(int)), "share": round(float(s), 3)}
           for c, s in zip(centre, shares, strict=True) if s >= MIN_COLOUR_SHARE]
    return sorted(out, key=lambda c: -c["share"])


async def _analyse(source: Path, workdir: Path, probe: Probe) -> tuple[int, Frames, float | None]:
    workdir.mkdir(parents=True, exist_ok=True)
    colour = Sampling("colour", spread(probe.duration, COLOUR_FRAMES), COLOUR_BOX)
    width, height = colour.size(probe)
    scene_w, scene_h = fit(display_size(probe), SCENE_BOX)
    scenes, raw = workdir / "scenes.txt", workdir / "colour.rgb"
    graph = (f"[0:v:0]split=2[a][b];[a]scale={scene_w}:{scene_h},select='gt(scene,{SCENE_THRESHOLD})',"
             f"metadata=print:file={scenes.name}[cuts];"
             f"[b]fps=1/{colour.interval:.6f}:start_time=0:round=near,scale={width}:{height}:flags=area,"
             f"format=rgb24[frames]")
    outputs = ["-map", "[cuts]", "-f", "null", "-", "-map", "[frames]", "-f", "rawvideo", raw.name]
    if probe.main_audio is not None:
        graph += ";[0:a:0]ebur128=framelog=verbose[loud]"
        outputs += ["-map", "[loud]", "-f", "null", "-"]
    # Relative names: the metadata filter's file option would need escaping for odd paths.
    log = await run_ffmpeg("-v", "info", "-nostats", "-i", str(source.resolve()), "-filter_complex", graph,
                           *outputs, cwd=workdir)
    cuts = scenes.read_text().count("pts_time") if scenes.exists() else 0
    data = np.fromfile(raw, dtype=np.uint8)
    count = data.size // (width * height * 3)
    frames = Frames(times=[i * colour.interval for i in range(count)],
                    pixels=data[:count * width * height * 3].reshape(count, height, width, 3))
    scenes.unlink(missing_ok=True)
    raw.unlink(missing_ok=True)
    loudness = None
    found = _LOUDNESS.findall(log)
    if found and found[-1] != "-inf":
        loudness = float(found[-1])
    return cuts, frames, loudness


async def extract(*, source: Path, workdir: Path, probe: Probe, caption: str,
                  settings: Settings | None = None) -> MediaMetadata:
    """Everything in the module docstring for ``source`` and its ``caption``.

    Raises ``MediaToolError`` if FFmpeg fails. The heavy parts (Lingua, the sentence model)
    run in the model process (``model_host``), which loads each model once; the rest of the
    CPU work runs in threads. Nothing is stored here: the
    pipeline saves the result with ``clipfeed.media.features.save_metadata``."""
    settings = settings or Settings()
    hashtags = list(dict.fromkeys(hashtags_in(caption)))
    encoder = embeddings.text_encoder(settings.embedding_threads)
    text_task = asyncio.ensure_future(encoder.encode(embeddings.caption_text(caption, hashtags)))
    language_task = asyncio.ensure_future(model_host.run(detect_language_of, caption,
                                                         settings.metadata_languages))
    try:
        cuts, frames, loudness = await _analyse(source, workdir, probe)
    except BaseException:
        text_task.cancel()
        language_task.cancel()
        raise
    visual = await asyncio.to_thread(embeddings.visual_features, frames)
    colours = await asyncio.to_thread(dominant_colours, frames)
    vector = embeddings.combine(await text_task, visual)
    return MediaMetadata(technical=technical(probe), hashtags=hashtags, mentions=mentions_in(caption),
                         language=await language_task, scene_cuts=cuts, colours=colours, loudness=loudness,
                         embedding=vector)
