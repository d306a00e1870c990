"""Is the assembled upload a video we accept? Decided from its bytes, never from its name.

The container is sniffed from the first bytes, then FFmpeg reads the file: in this process with
PyAV in a warm child process (``clipfeed.media.prober``, ffprobe's answer without ffprobe's
start-up, which the final PATCH used to wait for), or ffprobe where only it can say. The container FFmpeg finds
must agree with the sniffed one (so a file cannot pass as one format and be read as another),
codecs must be on the allow-lists, and duration and resolution must be within the configured
bounds. Every refusal says why in plain words.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from clipfeed.media.probe import Probe, ProbeError, sniff_container
from clipfeed.media.prober import probe
from clipfeed.settings import Settings

# File extension of the stored master, by sniffed container family.
EXTENSIONS = {"mp4": ".mp4", "matroska": ".mkv", "avi": ".avi", "mpeg-ts": ".ts", "mpeg-ps": ".mpg"}
# The names ffprobe's format_name uses for each family.
_PROBED_AS = {"mp4": {"mov", "mp4"}, "matroska": {"matroska", "webm"}, "avi": {"avi"},
              "mpeg-ts": {"mpegts"}, "mpeg-ps": {"mpeg"}}
SNIFF_BYTES = 512


class UnacceptableFile(Exception):
    """The file is not acceptable; ``reason`` is shown to its owner."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Accepted:
    container: str
    extension: str
    probe: Probe


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as reader:
        return reader.read(SNIFF_BYTES)


async def check(path: Path, *, settings: Settings) -> Accepted:
    """``Accepted`` or ``UnacceptableFile`` with the reason."""
    head = await asyncio.to_thread(_read_head, path)
    if not head:
        raise UnacceptableFile("the file is empty")
    container = sniff_container(head)
    if container is None:
        raise UnacceptableFile("not a video file: its bytes match no video container we know "
                               "(MP4/MOV, Matroska/WebM, AVI, MPEG-TS, MPEG-PS)")
    if container not in settings.upload_containers:
        raise UnacceptableFile(f"{container} files are not accepted here; use one of "
                               f"{', '.join(settings.upload_containers)}")
    try:
        report = await probe(path)
    except ProbeError as exc:
        raise UnacceptableFile(f"the file is damaged or incomplete: {exc}") from exc
    if not set(report.container.split(",")) & _PROBED_AS[container]:
        raise UnacceptableFile(f"the file claims to be {container} but reads as {report.container}")
    _check_streams(report, settings)
    return Accepted(container=container, extension=EXTENSIONS[container], probe=report)


def _check_streams(report: Probe, settings: Settings) -> None:
    video = report.main_video
    if video is None:
        raise UnacceptableFile("the file has no video stream (audio-only files are not clips)")
    if video.codec not in settings.upload_video_codecs:
        raise UnacceptableFile(f"video codec {video.codec} is not accepted")
    for audio in report.audio:
        if audio.codec not in settings.upload_audio_codecs:
            raise UnacceptableFile(f"audio codec {audio.codec} is not accepted")
    if report.duration < settings.upload_min_duration_s:
        raise UnacceptableFile(f"the video is {report.duration:.1f} s long; the minimum is "
                               f"{settings.upload_min_duration_s:g} s")
    if report.duration > settings.upload_max_duration_s:
        raise UnacceptableFile(f"the video is {report.duration:.0f} s long; the maximum is "
                               f"{settings.upload_max_duration_s:g} s")
    width, height = video.display_size
    if min(width, height) < settings.upload_min_dimension:
        raise UnacceptableFile(f"the picture is {width}x{height}; each side needs at least "
                               f"{settings.upload_min_dimension} pixels")
    if max(width, height) > settings.upload_max_dimension:
        raise UnacceptableFile(f"the picture is {width}x{height}; no side may pass "
                               f"{settings.upload_max_dimension} pixels")
