"""ffprobe's ``Probe`` without starting ffprobe: read with PyAV (FFmpeg's libraries), in the
process kept warm for it (``prober``: hostile files are read outside the API process, as
ffprobe read them).

Starting ffprobe costs 80-90 ms (it links some 220 shared libraries) before it reads a byte;
the upload's final PATCH waits for it. ``read`` opens the file with PyAV and fills every field
the way ffprobe's JSON does (``N/A`` values become ``None`` or 0, as
``probe.parse`` reads them); ``tests/contract/test_probe_in_process.py`` holds both to the
same answers on every sample file.

One field PyAV (18.1) cannot read where ffprobe does: the stream's display matrix. It is read
from the first decoded frame instead, which also carries an orientation written in the video
bitstream (an SEI message), one that ffprobe's stream report and FFmpeg's ``autorotate`` ignore.
For H.264 those messages are stripped before decoding (``filter_units``); for other codecs a
rotated picture may be either, so ffprobe decides. Whenever PyAV cannot give ffprobe's answer
for certain (a stream without a decoder here, no frame decoded), ffprobe decides too.

PyAV bundles its own FFmpeg (8.1), newer than the system's (5.1, which transcodes): a file one
reads and the other refuses would be refused later, by the media worker, with its reason.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.audio.stream
import av.bitstream
import av.video.stream

from clipfeed.media.probe import AudioStream, NeedsFfprobe, Probe, ProbeError, VideoStream

# Packets read while looking for each video stream's first frame before giving up on PyAV.
_FIRST_FRAME_PACKETS = 240
# Display orientation SEI (type 6 NAL units) removed: ffprobe's rotation is the container's.
_CONTAINER_ROTATION_ONLY = {"h264": "filter_units=remove_types=6"}
# The picture itself is not looked at: the cheapest decode that still yields a frame.
_CHEAP_DECODE = {"skip_loop_filter": "all", "skip_idct": "all", "flags2": "+fast"}
_ATTACHED_PIC = int(av.stream.Disposition.attached_pic)


def _positive(value: int | None) -> int | None:
    return value if value is not None and value > 0 else None


def _rate(value: Fraction | None) -> float:
    return float(value) if value is not None and value > 0 else 0.0


def _first_frame_rotations(container: av.container.InputContainer,
                           streams: list[av.video.stream.VideoStream]) -> dict[int, int]:
    """Counter-clockwise degrees of each stream's display matrix, as ffprobe reports it."""
    by_index = {stream.index: stream for stream in streams}
    filters = {}
    for stream in streams:
        context = stream.codec_context
        context.thread_count = 1  # frame threads hold the first frame back
        context.options = dict(_CHEAP_DECODE)
        name = context.codec.canonical_name
        if name in _CONTAINER_ROTATION_ONLY:
            filters[stream.index] = av.bitstream.BitStreamFilterContext(_CONTAINER_ROTATION_ONLY[name], stream)
    found: dict[int, int] = {}
    for count, packet in enumerate(container.demux(streams)):
        if count >= _FIRST_FRAME_PACKETS:
            break
        index = packet.stream.index
        if index in found:
            continue
        bsf = filters.get(index)
        try:
            for filtered in bsf.filter(packet) if bsf is not None else [packet]:
                for frame in by_index[index].codec_context.decode(filtered):
                    found.setdefault(index, int(frame.rotation))
        except av.error.FFmpegError:
            continue  # a damaged first packet: the decoder starts again at the next keyframe
        if len(found) == len(streams):
            return found
    raise NeedsFfprobe("no frame decoded")


def _legacy_rotation(stream: av.video.stream.VideoStream) -> int:
    # ffprobe.parse's rule: the display matrix, else the "rotate" tag of older muxers.
    tag = stream.metadata.get("rotate")
    return int(tag) if tag is not None else 0


def read(path: Path, *, timeout: float) -> Probe:
    """ffprobe's ``Probe`` of ``path``, in this thread; ``ProbeError`` when FFmpeg cannot read
    it, ``NeedsFfprobe`` when only ffprobe can say."""
    try:
        container = av.open(str(path), timeout=(timeout, timeout))
    except av.error.ExitError as exc:  # the interrupt callback: the timeout passed
        raise ProbeError("reading the file took too long") from exc
    except av.error.FFmpegError as exc:
        raise ProbeError(f"not a readable video file ({exc.strerror or 'unknown format'})") from exc
    with container:
        try:
            return _describe(container)
        except av.error.ExitError as exc:  # the interrupt callback: the timeout passed
            raise ProbeError("reading the file took too long") from exc
        except (av.error.FFmpegError, ValueError) as exc:
            raise NeedsFfprobe(str(exc)) from exc


def _describe(container: av.container.InputContainer) -> Probe:
    video_streams: list[av.video.stream.VideoStream] = []
    audio = []
    for stream in container.streams:
        if stream.type in ("video", "audio") and stream.codec_context is None:
            raise NeedsFfprobe(f"no {stream.type} decoder for stream {stream.index}")
        if isinstance(stream, av.audio.stream.AudioStream):
            context = stream.codec_context
            audio.append(AudioStream(index=stream.index, codec=context.codec.canonical_name,
                                     channels=context.channels or 0, sample_rate=context.sample_rate or 0,
                                     bit_rate=_positive(context.bit_rate)))
        elif isinstance(stream, av.video.stream.VideoStream) and not stream.disposition & _ATTACHED_PIC:
            video_streams.append(stream)
    rotations = _first_frame_rotations(container, video_streams) if video_streams else {}
    video = []
    for stream in video_streams:
        video_context = stream.codec_context
        counter_clockwise = rotations[stream.index]
        if counter_clockwise and video_context.codec.canonical_name not in _CONTAINER_ROTATION_ONLY:
            raise NeedsFfprobe("the rotation may come from the bitstream")
        degrees = -counter_clockwise or _legacy_rotation(stream)
        video.append(VideoStream(
            index=stream.index, codec=video_context.codec.canonical_name, width=video_context.width or 0,
            height=video_context.height or 0, rotation=degrees % 360, fps=_rate(stream.base_rate),
            avg_fps=_rate(stream.average_rate),
            pix_fmt=video_context.format.name if video_context.format else None,
            bit_rate=_positive(video_context.bit_rate), frames=_positive(stream.frames)))
    return Probe(container=container.format.name, duration=(container.duration or 0) / av.time_base,
                 size=max(container.size, 0),  # ffprobe: N/A when unknown, read as 0
                 bit_rate=_positive(container.bit_rate), video=video, audio=audio)
