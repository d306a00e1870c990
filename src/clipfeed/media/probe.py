"""What a media file really is: container sniffed from its bytes, streams from ffprobe.

Shared by upload validation (refuse bad files before a clip exists) and the media worker
(plan the ladder). ffprobe is FFmpeg's own prober, so whatever it reads FFmpeg can decode.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

# Magic numbers of the containers we accept, checked on the first bytes of the file.
_SIGNATURES: list[tuple[int, bytes, str]] = [
    (4, b"ftyp", "mp4"),          # ISO BMFF: MP4, MOV (ftyp qt), 3GP, M4V
    (0, b"\x1a\x45\xdf\xa3", "matroska"),  # Matroska / WebM (EBML header)
    (0, b"RIFF", "riff"),         # AVI when bytes 8..12 are "AVI "
    (4, b"moov", "mp4"), (4, b"mdat", "mp4"), (4, b"wide", "mp4"), (4, b"free", "mp4"),
    (0, b"\x00\x00\x01\xba", "mpeg-ps"),
    (0, b"\x47", "mpeg-ts"),
]


def sniff_container(head: bytes) -> str | None:
    """The container family from the first bytes (at least 12), or None if unknown."""
    for offset, magic, name in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            if name == "riff":
                return "avi" if head[8:12] == b"AVI " else None
            if name == "mpeg-ts":
                return "mpeg-ts" if len(head) > 188 and head[188:189] == b"\x47" else None
            return name
    return None


@dataclass(frozen=True)
class VideoStream:
    index: int
    codec: str
    width: int
    height: int
    rotation: int  # degrees clockwise the player must turn the picture (0, 90, 180, 270)
    fps: float
    avg_fps: float
    pix_fmt: str | None
    bit_rate: int | None
    frames: int | None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, after rotation."""
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)

    @property
    def variable_frame_rate(self) -> bool:
        return self.avg_fps > 0 and abs(self.fps - self.avg_fps) / self.avg_fps > 0.02


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    channels: int
    sample_rate: int
    bit_rate: int | None


@dataclass(frozen=True)
class Probe:
    container: str  # ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    duration: float
    size: int
    bit_rate: int | None
    video: list[VideoStream] = field(default_factory=list)
    audio: list[AudioStream] = field(default_factory=list)

    @property
    def main_video(self) -> VideoStream | None:
        return max(self.video, key=lambda v: v.width * v.height, default=None)

    @property
    def main_audio(self) -> AudioStream | None:
        return self.audio[0] if self.audio else None


class ProbeError(Exception):
    """FFmpeg cannot read the file; the message says why in words a creator understands."""


class NeedsFfprobe(Exception):
    """PyAV (``pyav_probe``) cannot give ffprobe's answer for certain; ffprobe decides."""


def _rate(text: str | None) -> float:
    try:
        value = Fraction(text or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value) if value > 0 else 0.0


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _rotation(stream: dict[str, Any]) -> int:
    degrees = 0
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            degrees = -int(float(side["rotation"]))  # display matrix is counter-clockwise
    if not degrees and "rotate" in (stream.get("tags") or {}):
        degrees = int(stream["tags"]["rotate"])
    return degrees % 360


def parse(report: dict[str, Any]) -> Probe:
    fmt = report.get("format") or {}
    video, audio = [], []
    for stream in report.get("streams", []):
        kind = stream.get("codec_type")
        if kind == "video" and not (stream.get("disposition") or {}).get("attached_pic"):
            video.append(VideoStream(
                index=int(stream["index"]), codec=stream.get("codec_name", "unknown"),
                width=int(stream.get("width") or 0), height=int(stream.get("height") or 0),
                rotation=_rotation(stream), fps=_rate(stream.get("r_frame_rate")),
                avg_fps=_rate(stream.get("avg_frame_rate")), pix_fmt=stream.get("pix_fmt"),
                bit_rate=_int(stream.get("bit_rate")), frames=_int(stream.get("nb_frames"))))
        elif kind == "audio":
            audio.append(AudioStream(
                index=int(stream["index"]), codec=stream.get("codec_name", "unknown"),
                channels=int(stream.get("channels") or 0), sample_rate=int(stream.get("sample_rate") or 0),
                bit_rate=_int(stream.get("bit_rate"))))
    return Probe(container=fmt.get("format_name", "unknown"), duration=float(fmt.get("duration") or 0.0),
                 size=int(fmt.get("size") or 0), bit_rate=_int(fmt.get("bit_rate")), video=video, audio=audio)


async def ffprobe_json(path: Path, *args: str, timeout: float = 60.0) -> dict[str, Any]:
    """ffprobe's JSON report of ``path`` for the sections ``args`` ask for (``-show_format``,
    ``-show_entries ...``); ``ProbeError`` when FFmpeg cannot read it."""
    proc = await asyncio.create_subprocess_exec(
        "ffprobe", "-v", "error", "-hide_banner", "-print_format", "json", *args, str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError as exc:
        proc.kill()
        await proc.wait()
        raise ProbeError("reading the file took too long") from exc
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        # FFmpeg prefixes the path; clients must not see our file layout.
        reason = lines[-1].replace(f"{path}: ", "") if lines else "unknown format"
        raise ProbeError(f"not a readable video file ({reason})")
    try:
        # A packet list runs to megabytes: parsed off the event loop.
        report = await asyncio.to_thread(json.loads, out)
    except ValueError as exc:
        raise ProbeError("not a readable video file") from exc
    if not isinstance(report, dict):
        raise ProbeError("not a readable video file")
    return report


async def probe(path: Path, *, timeout: float = 60.0) -> Probe:
    """ffprobe's view of ``path``; ``ProbeError`` when FFmpeg cannot read it."""
    report = await ffprobe_json(path, "-show_format", "-show_streams", timeout=timeout)
    try:
        return parse(report)
    except (ValueError, KeyError) as exc:
        raise ProbeError("not a readable video file") from exc
