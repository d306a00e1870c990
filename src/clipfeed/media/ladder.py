"""The encoding ladder: one profile table, and the renditions it gives for a source.

Every encoder setting lives in ``PROFILES`` (documented in docs/design/media-pipeline.md, "Ladder").
Rungs are named by their *short* side, so a portrait 1080x1920 clip and a landscape
1920x1080 one both get a "1080" rendition of the same pixel count. Nothing is upscaled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

# Segmenting and keyframes: every rendition gets a keyframe at 0 s, at FIRST_SEGMENT_S and
# then every GOP_S, so all renditions cut (and players switch) at the same instants, and the
# first segment is short for a fast start.
GOP_S = 2
FIRST_SEGMENT_S = 1
# Keyframe times as an FFmpeg ``-force_key_frames`` expression: 0, 1, 3, 5, ...
KEYFRAMES_FIRST_CHUNK = f"expr:gte(t,max(0,{GOP_S}*n_forced-{GOP_S - FIRST_SEGMENT_S}))"
# For chunks after the first (they start on a keyframe): 0, 2, 4, ... from the chunk start.
KEYFRAMES_LATER_CHUNK = f"expr:gte(t,{GOP_S}*n_forced)"

# Loudness: integrated loudness measured while probing (EBU R128, ``ebur128``), then a constant
# gain to this target and a limiter at the ceiling in the encode (two-pass, linear).
LOUDNESS_TARGET_LUFS = -16.0
PEAK_CEILING_DBFS = -1.0
MAX_GAIN_DB = 20.0

STANDARD_RATES = [Fraction(24000, 1001), Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(30),
                  Fraction(48), Fraction(50), Fraction(60000, 1001), Fraction(60)]
MAX_FPS = 60


@dataclass(frozen=True)
class Profile:
    """One row of the table. Bitrates are for up to 30 fps; above, maxrate grows by half."""

    name: str            # rendition name, also its folder: clips/{id}/v/{name}/
    short_side: int      # pixels on the short side (height of landscape, width of portrait)
    codec: str           # h264 | hevc | av1 (what CODECS and the DASH adaptation set say)
    encoder: str         # FFmpeg encoder
    profile: str | None  # H.264/HEVC profile
    preset: str          # encoder speed preset
    crf: int             # constant quality, capped by maxrate (capped CRF)
    maxrate_kbps: int    # VBV cap; bufsize is twice that (2 s of buffer)
    tune: str | None = None

    def maxrate(self, fps: Fraction) -> int:
        return int(self.maxrate_kbps * (1.5 if fps > 31 else 1.0))


@dataclass(frozen=True)
class AudioProfile:
    codec: str = "aac"          # AAC-LC
    encoder: str = "aac"
    bitrate_kbps: int = 128
    sample_rate: int = 48000
    channels: int = 2
    codecs_tag: str = "mp4a.40.2"


# The H.264 ladder every clip gets (the rungs that do not upscale it).
# x264 presets are per rung: "veryfast" where the pixels are; the 240 rung (3G, old phones) is
# so small that "fast" costs a few % of the ladder's CPU and buys about 1 dB (bench/RESULTS.md).
# Every x264 rung looks 10 frames ahead (``transcode.LOOKAHEAD_FRAMES``), whatever its preset.
PROFILES: tuple[Profile, ...] = (
    Profile("1080", 1080, "h264", "libx264", "high", "veryfast", 23, 5000),
    Profile("720", 720, "h264", "libx264", "high", "veryfast", 23, 2800),
    Profile("480", 480, "h264", "libx264", "main", "veryfast", 23, 1400),
    Profile("360", 360, "h264", "libx264", "main", "veryfast", 23, 800),
    Profile("240", 240, "h264", "libx264", "main", "fast", 24, 400),
)
# Optional renditions behind CLIPFEED_MEDIA_EXTRA_CODECS (players that decode them save
# bandwidth; every player still has the H.264 ladder).
EXTRA_PROFILES: dict[str, tuple[Profile, ...]] = {
    "hevc": (Profile("1080-hevc", 1080, "hevc", "libx265", "main", "ultrafast", 26, 3000),
             Profile("720-hevc", 720, "hevc", "libx265", "main", "ultrafast", 26, 1700)),
    "av1": (Profile("720-av1", 720, "av1", "libsvtav1", None, "12", 36, 1400),),
}
AUDIO = AudioProfile()
# The progressive MP4 fallback is a copy of this rung (or the smallest one the clip has).
FALLBACK_RUNG = "360"


@dataclass(frozen=True)
class Rendition:
    profile: Profile
    width: int
    height: int

    @property
    def name(self) -> str:
        return self.profile.name


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def output_fps(fps: float, avg_fps: float) -> Fraction:
    """The constant frame rate to encode at: a standard rate when the source is within 1 % of
    one, else the source's average rounded to a whole number (cup.mp4's 26.78 -> 27), capped at
    60. Variable-rate phone video thus becomes constant-rate."""
    rate = avg_fps if avg_fps > 0 else fps
    if rate <= 0:
        return Fraction(30)
    closest = min(STANDARD_RATES, key=lambda standard: abs(rate - float(standard)))
    if abs(rate - float(closest)) / float(closest) < 0.01:
        return closest
    return Fraction(min(MAX_FPS, max(1, round(rate))))


def renditions(width: int, height: int, *, extra_codecs: tuple[str, ...] = ()) -> list[Rendition]:
    """The renditions for a picture of ``width`` x ``height`` (as displayed, after rotation and
    edits), biggest first. Only rungs at or below the source's short side; a source smaller
    than the smallest rung gets one rendition at its own (even) size."""
    short, long_ = min(width, height), max(width, height)
    portrait = height > width
    profiles = [p for p in PROFILES if p.short_side <= short]
    for codec in extra_codecs:
        profiles += [p for p in EXTRA_PROFILES[codec] if p.short_side <= short]
    if not any(p.codec == "h264" for p in profiles):
        smallest = PROFILES[-1]
        profiles.insert(0, Profile(str(_even(short)), _even(short), "h264", smallest.encoder, smallest.profile,
                                   smallest.preset, smallest.crf, smallest.maxrate_kbps))
    out = []
    for profile in profiles:
        side = _even(profile.short_side)
        other = _even(profile.short_side * long_ / short)
        w, h = (side, other) if portrait else (other, side)
        out.append(Rendition(profile, w, h))
    return sorted(out, key=lambda r: (-r.width * r.height, r.profile.codec != "h264"))


def fallback(rungs: list[Rendition]) -> Rendition:
    h264 = [r for r in rungs if r.profile.codec == "h264"]
    for rung in h264:
        if rung.name == FALLBACK_RUNG:
            return rung
    return h264[-1]


def gop_frames(fps: Fraction) -> int:
    return max(1, round(GOP_S * fps))


def keyframe_times(duration: float) -> list[float]:
    """The times ``KEYFRAMES_FIRST_CHUNK`` forces keyframes at in a clip of ``duration``
    seconds: 0, FIRST_SEGMENT_S, then every GOP_S."""
    times = [0.0]
    at = float(FIRST_SEGMENT_S)
    while at < duration:
        times.append(at)
        at += GOP_S
    return times


def first_frame_at(time: float, fps: Fraction) -> int:
    """The frame a keyframe forced at ``time`` falls on: the first at or after it."""
    return math.ceil(Fraction(time) * fps)
