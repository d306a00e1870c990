"""Whether the source's video stream can be the top H.264 rung as it is (stream copy).

The web app compresses big phone files to at most the top rung before upload (H.264, the top
rung's picture, its bitrate cap, a keyframe every second), so decoding that upload and encoding
the same rung again costs the largest encode of the ladder and a generation of quality for
nothing. The decision is made from ffprobe's stream and packet lists (no decode): the stream
is copied only when players could not tell it from our own encode — same codec family and
picture, the same constant frame rate, a keyframe on every frame where the ladder forces one
(so every rung's segments cut at the same instants), within the rung's bitrate cap.
The lower rungs are still encoded from the decoded source, and that decode still checks the
file's health (damaged frames, black, frozen).

Crash behaviour: unchanged. The check only reads the local copy of the master; a job
redelivered after a crash decides again from the same file and gets the same answer, and an
encode that did not finish restarts as before (``pipeline``).
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from clipfeed.media import ladder
from clipfeed.media.probe import Probe, ProbeError, ffprobe_json
from clipfeed.media.transcode import Plan

PROFILES = ("Constrained Baseline", "Baseline", "Main", "High")
PIXEL_FORMATS = ("yuv420p", "yuvj420p")  # 8-bit 4:2:0 (j: full range, signalled in the stream)
# The average may exceed the cap a little (our own capped-CRF rungs do too).
AVERAGE_HEADROOM = 1.1
# No window of this length may hold more than a VBV buffer of 2 x maxrate lets through: its
# fill plus this long of refill at maxrate (what the top rung's own encoder guarantees).
WINDOW_S = 2
# Timestamps are rounded to the container's clock: a frame may sit this far (in frames) from
# its place on the constant-rate grid.
GRID_TOLERANCE = 0.25
START_TOLERANCE_S = 0.001


@dataclass(frozen=True)
class Verdict:
    copy: bool
    reason: str  # why not (for the log), or why it is copied
    file_start: float = 0.0  # the file's earliest time (``Plan.source_start``)


async def decide(probe: Probe, plan: Plan, *, enabled: bool = True) -> Verdict:
    """Whether ``plan``'s top rung can be the source's video stream copied."""
    if not enabled:
        return Verdict(False, "turned off (CLIPFEED_MEDIA_PASSTHROUGH)")
    reason = _plan_reason(probe, plan)
    if reason:
        return Verdict(False, reason)
    try:
        report = await ffprobe_json(
            plan.source, "-select_streams", "v", "-show_entries",
            "stream=codec_name,profile,pix_fmt,width,height,sample_aspect_ratio,time_base,start_time"
            ":format=start_time:packet=pts,size,flags", timeout=300)
    except ProbeError as exc:
        return Verdict(False, f"packets not readable: {exc}")
    # A long clip lists tens of thousands of packets: CPU work for a thread, off the event loop.
    reason = await asyncio.to_thread(lambda: _stream_reason(report, plan) or _packets_reason(report, plan))
    if reason:
        return Verdict(False, reason)
    file_start = _seconds((report.get("format") or {}).get("start_time")) or 0.0
    return Verdict(True, f"the source is the {plan.rungs[0].name} rung already", file_start=min(0.0, file_start))


def _plan_reason(probe: Probe, plan: Plan) -> str | None:
    edits, video = plan.edits, probe.main_video
    # rungs[0] is the top H.264 rung (``ladder.renditions`` sorts it first).
    if len(plan.rungs) < 2:
        return "the clip has a single rendition (its encode is the decode's health check)"
    if len(probe.video) != 1 or video is None:
        return "the file has several video streams"
    if edits.trim_start > 0 or (edits.trim_end is not None and edits.trim_end < probe.duration):
        return "the edit list trims the clip"
    changes = [(edits.crop is not None, "crops"), (edits.rotate != 0, "rotates"),
               (edits.speed != 1.0, "changes the speed of"), (bool(edits.texts), "draws text on")]
    for changed, verb in changes:
        if changed:
            return f"the edit list {verb} the picture"
    if video.rotation:
        return f"the picture is turned by {video.rotation} degrees on display"
    return None


def _stream_reason(report: dict[str, Any], plan: Plan) -> str | None:
    streams = report.get("streams") or []
    if len(streams) != 1:
        return "the file has several video streams"
    stream, top = streams[0], plan.rungs[0]
    if stream.get("codec_name") != "h264":
        return f"codec {stream.get('codec_name')}, not H.264"
    if stream.get("pix_fmt") not in PIXEL_FORMATS:
        return f"pixel format {stream.get('pix_fmt')}, not 8-bit 4:2:0"
    if stream.get("profile") not in PROFILES:
        return f"H.264 profile {stream.get('profile')}"
    if (stream.get("width"), stream.get("height")) != (top.width, top.height):
        return f"picture {stream.get('width')}x{stream.get('height')}, not the rung's {top.width}x{top.height}"
    if stream.get("sample_aspect_ratio") not in (None, "1:1", "0:1", "N/A"):
        return f"pixels are not square ({stream.get('sample_aspect_ratio')})"
    return None


def _seconds(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class _Packet:
    decoded: int  # position in decode order (the file's)
    pts: int      # in the stream's time base
    bits: int
    key: bool


def _packets(report: dict[str, Any]) -> list[_Packet] | None:
    """The video packets in decode order; None when one has no time or size."""
    packets = []
    for at, raw in enumerate(report.get("packets") or []):
        size = raw.get("size")
        if not isinstance(raw.get("pts"), int) or not str(size).isdigit():
            return None
        packets.append(_Packet(at, raw["pts"], int(size) * 8, "K" in (raw.get("flags") or "")))
    return packets or None


def _packets_reason(report: dict[str, Any], plan: Plan) -> str | None:
    stream, fps = report["streams"][0], plan.fps
    try:
        base = Fraction(stream.get("time_base") or "0")
    except (ValueError, ZeroDivisionError):
        base = Fraction(0)
    packets = _packets(report)
    if base <= 0 or packets is None:
        return "packets without timestamps"
    # Only the video must start at 0: an AAC track often starts a little before it (the
    # encoder's priming, as the browser's MP4 writer stores it), and the copy keeps the video's
    # own times (``Plan.source_start``).
    start = _seconds(stream.get("start_time"))
    if start is None or abs(start) > START_TOLERANCE_S:
        return f"the video starts at {start} s, not 0"
    frames = sorted(packets, key=lambda p: p.pts)  # in display order
    for n, frame in enumerate(frames):
        if abs(frame.pts * base * fps - n) > GRID_TOLERANCE:
            return f"not a constant {float(fps):.3f} fps (frame {n} at {float(frame.pts * base):.3f} s)"
    return _keyframes_reason(packets, frames, base, fps) or _bitrate_reason(frames, plan)


def _keyframes_reason(packets: list[_Packet], frames: list[_Packet], base: Fraction,
                      fps: Fraction) -> str | None:
    """A keyframe on each frame the encoders force one on (the first frame at or after each of
    the ladder's keyframe times, and not before that time: ``regroup`` relies on it), and no
    frame decoded after it shown before it (a closed GOP, so a segment can start there)."""
    shown_later = [0] * len(packets)  # the earliest time shown by a packet decoded after this one
    earliest: int | None = None
    for packet in reversed(packets):
        shown_later[packet.decoded] = packet.pts if earliest is None else earliest
        earliest = packet.pts if earliest is None else min(earliest, packet.pts)
    for at in ladder.keyframe_times(float(len(frames) / fps)):
        n = ladder.first_frame_at(at, fps)
        if n >= len(frames):
            break
        frame = frames[n]
        if not frame.key or frame.pts * base < Fraction(at):
            return f"no keyframe at {at:g} s, where every rung's segments are cut"
        if shown_later[frame.decoded] < frame.pts:
            return f"open GOP at {at:g} s (frames after the keyframe are shown before it)"
    return None


def _bitrate_reason(frames: list[_Packet], plan: Plan) -> str | None:
    fps = plan.fps
    cap = plan.rungs[0].profile.maxrate(fps) * 1000
    average = float(sum(f.bits for f in frames) / (len(frames) / fps))
    if average > AVERAGE_HEADROOM * cap:
        return f"{average / 1000:.0f} kbit/s on average, above {AVERAGE_HEADROOM} x the cap of {cap // 1000}"
    window = min(len(frames), max(1, math.ceil(WINDOW_S * fps)))
    allowed = cap * WINDOW_S + 2 * cap  # the buffer's fill plus WINDOW_S of refill
    held = sum(f.bits for f in frames[:window])
    for n in range(len(frames) - window + 1):
        if n:
            held += frames[n + window - 1].bits - frames[n - 1].bits
        if held > allowed:
            return (f"{held / 1000:.0f} kbit in the {WINDOW_S} s from {float(n / fps):.1f} s, "
                    f"above the buffer's {allowed // 1000}")
    return None
