"""Is this upload a usable video? Two checks, each with a reason a creator can act on:

1. before any decoding, from ffprobe's report (``check_probe``): a video track that has frames,
   sane dimensions (a tiny file may declare a 100 000-pixel-wide picture to exhaust memory),
   a duration within the limits;
2. after the single decode that also feeds the ladder (``assess``): whether the decoder hit
   damaged data, whether the picture ran to the end, and black/frozen/silent spans.

Damage policy: an input whose decode stops well before its declared end, or where more than
``DAMAGE_RATIO`` of the frames raised decoder errors, is rejected ("the file is damaged");
a few damaged frames (box-damaged.mp4: broken slices in one frame, concealed by the decoder)
are flagged ``damaged_frames`` and the clip is published. Black, frozen and silent clips are
flagged (stored in ``media["quality"]``), not rejected: moderation and ranking decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from clipfeed.media.ffmpeg import Report
from clipfeed.media.probe import Probe

DAMAGE_RATIO = 0.05      # share of frames with decoder errors beyond which we reject
MIN_DAMAGE_REJECT = 5    # ... and at least this many error lines
FLAG_SHARE = 0.9         # black/frozen/silent for at least this share of the clip


class UnusableMedia(Exception):
    """The input cannot become a clip; ``str()`` is the reason shown to the creator."""


@dataclass(frozen=True)
class Limits:
    max_duration_s: float = 600.0
    min_duration_s: float = 0.3
    max_side: int = 8192
    max_pixels: int = 7680 * 4320


def check_probe(probe: Probe, limits: Limits) -> None:
    """Raise ``UnusableMedia`` when ffprobe's view of the file already rules it out."""
    video = probe.main_video
    if video is None:
        raise UnusableMedia("the file has no video track" + (" (it is audio only)" if probe.audio else ""))
    if video.width <= 0 or video.height <= 0:
        raise UnusableMedia("the video track has no picture size; the file may be damaged")
    if video.width > limits.max_side or video.height > limits.max_side or \
            video.width * video.height > limits.max_pixels:
        raise UnusableMedia(f"the picture is too large ({video.width}x{video.height}); "
                            f"at most {limits.max_side} pixels a side and 8K in total")
    if video.frames == 0:
        raise UnusableMedia("the video track is empty (no frames)")
    if probe.duration <= 0:
        raise UnusableMedia("the video has no duration; the file may be damaged")
    if probe.duration < limits.min_duration_s:
        raise UnusableMedia(f"the video is too short ({probe.duration:.2f} s)")
    if probe.duration > limits.max_duration_s + 1:
        raise UnusableMedia(f"the video is too long ({probe.duration:.0f} s; at most {limits.max_duration_s:.0f} s)")


@dataclass
class Quality:
    flags: list[str] = field(default_factory=list)
    black_s: float = 0.0
    frozen_s: float = 0.0
    silent_s: float = 0.0
    damaged: int = 0
    loudness_lufs: float | None = None
    gain_db: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"flags": self.flags, "black_s": round(self.black_s, 2), "frozen_s": round(self.frozen_s, 2),
                "silent_s": round(self.silent_s, 2), "damaged_frames": self.damaged,
                "loudness_lufs": self.loudness_lufs, "gain_db": round(self.gain_db, 2)}


def assess(video: Report, audio: Report | None, *, duration: float, fps: float,
           has_audio: bool, gain_db: float = 0.0) -> Quality:
    """Judge the decode; raise ``UnusableMedia`` for damaged input, else return the flags."""
    expected_frames = max(1.0, duration * fps)
    damaged = len(video.errors)
    if video.out_time < duration * 0.9 - 0.5:
        raise UnusableMedia(f"the file is damaged: only {video.out_time:.1f} s of {duration:.1f} s could be decoded")
    if damaged >= MIN_DAMAGE_REJECT and damaged > expected_frames * DAMAGE_RATIO:
        raise UnusableMedia(f"the file is damaged: {damaged} decoding errors in {duration:.1f} s of video")
    quality = Quality(black_s=video.black_s, frozen_s=video.frozen_s, damaged=damaged, gain_db=gain_db,
                      loudness_lufs=audio.loudness_lufs if audio else None,
                      silent_s=audio.silent_s if audio else 0.0)
    if damaged:
        quality.flags.append("damaged_frames")
    if quality.black_s >= duration * FLAG_SHARE:
        quality.flags.append("black")
    if quality.frozen_s >= duration * FLAG_SHARE:
        quality.flags.append("frozen")
    if not has_audio:
        quality.flags.append("no_audio")
    elif quality.silent_s >= duration * FLAG_SHARE:
        quality.flags.append("silent")
    return quality
