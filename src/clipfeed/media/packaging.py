"""Manifests over the CMAF segments FFmpeg wrote: our own HLS media and master playlists (with
BANDWIDTH, AVERAGE-BANDWIDTH, RESOLUTION, CODECS, FRAME-RATE), a DASH MPD that points at the
very same segment files, and the progressive MP4 fallback.

Layout under ``clips/{id}/`` (FFmpeg's local folder ``<name>/`` becomes ``v/<name>/``, its
``audio/`` becomes ``a/aac/``)::

    v/<rendition>/init.mp4, seg_00000.m4s, ..., index.m3u8
    a/aac/init.mp4, seg_00000.m4s, ..., index.m3u8
    hls/master.m3u8   dash/manifest.mpd   mp4/fallback.mp4
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from clipfeed.media import ladder
from clipfeed.media.ffmpeg import run
from clipfeed.media.ladder import Rendition

AUDIO_DIR = "audio"   # FFmpeg's local folder for the sound track
AUDIO_GROUP = "aac"
CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".m4s": "video/iso.segment",
                 ".mp4": "video/mp4", ".mpd": "application/dash+xml"}


@dataclass
class Segment:
    name: str        # file name, the same locally and in the store
    duration: float
    size: int


@dataclass
class Track:
    """One rendition (or the sound track) as written so far."""

    local: Path                  # FFmpeg's folder for it
    folder: str                  # where it goes under the clip prefix: v/720, a/aac
    init: Path | None
    segments: list[Segment] = field(default_factory=list)
    ended: bool = False
    rendition: Rendition | None = None

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    @property
    def average_bandwidth(self) -> int:
        total = self.duration
        return int(sum(s.size for s in self.segments) * 8 / total) if total > 0 else 0

    @property
    def peak_bandwidth(self) -> int:
        full = [s for s in self.segments if s.duration >= 0.5] or self.segments
        return int(max((s.size * 8 / s.duration for s in full if s.duration > 0), default=0))


def folder_for(name: str) -> str:
    return f"a/{AUDIO_GROUP}" if name == AUDIO_DIR else f"v/{name}"


def read_track(local: Path, rendition: Rendition | None = None) -> Track:
    """The segments FFmpeg has finished, from its playlist (it lists a segment once complete)."""
    track = Track(local=local, folder=folder_for(local.name), init=None, rendition=rendition)
    playlist = local / "index.m3u8"
    if not playlist.exists():
        return track
    duration: float | None = None
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXT-X-MAP:"):
            uri = line.split('URI="', 1)[1].split('"', 1)[0]
            track.init = local / uri
        elif line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",", 1)[0])
        elif line.startswith("#EXT-X-ENDLIST"):
            track.ended = True
        elif line and not line.startswith("#") and duration is not None:
            track.segments.append(Segment(line, duration, (local / line).stat().st_size))
            duration = None
    return track


def codec_string(init: Path, codec: str) -> str:
    """RFC 6381 codec string from the init segment's decoder configuration box."""
    data = init.read_bytes()
    if codec == "h264":
        at = data.find(b"avcC") + 4
        return f"avc1.{data[at + 1]:02X}{data[at + 2]:02X}{data[at + 3]:02X}"
    if codec == "hevc":
        at = data.find(b"hvcC") + 4
        first = data[at + 1]
        compat = int.from_bytes(data[at + 2:at + 6], "big")
        flipped = int(f"{compat:032b}"[::-1], 2)
        constraints = bytearray(data[at + 6:at + 12])
        while constraints and constraints[-1] == 0:
            constraints.pop()
        text = (f"hvc1.{['', 'A', 'B', 'C'][first >> 6]}{first & 0x1F}.{flipped:X}."
                f"{'H' if first & 0x20 else 'L'}{data[at + 12]}")
        return text + "".join(f".{b:02X}" for b in constraints)
    if codec == "av1":
        at = data.find(b"av1C") + 4
        profile, level = data[at + 1] >> 5, data[at + 1] & 0x1F
        flags = data[at + 2]
        depth = 12 if flags & 0x20 else (10 if flags & 0x40 else 8)
        return f"av01.{profile}.{level:02d}{'H' if flags & 0x80 else 'M'}.{depth:02d}"
    return ladder.AUDIO.codecs_tag


def media_playlist(track: Track, *, ended: bool) -> str:
    target = max([1, *(math.floor(s.duration + 0.5) for s in track.segments)])
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", f"#EXT-X-TARGETDURATION:{target}", "#EXT-X-MEDIA-SEQUENCE:0",
             f"#EXT-X-PLAYLIST-TYPE:{'VOD' if ended else 'EVENT'}", "#EXT-X-INDEPENDENT-SEGMENTS",
             '#EXT-X-MAP:URI="init.mp4"']
    for segment in track.segments:
        lines += [f"#EXTINF:{segment.duration:.6f},", segment.name]
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _frame_rate(fps: Fraction) -> str:
    return f"{float(fps):.3f}"


def master_playlist(videos: list[Track], audio: Track | None, fps: Fraction, *,
                    estimated: bool = False) -> str:
    """The HLS master. The first variant is the one players start with: the mid rung (the
    fallback rung), so the first seconds load fast on any network. ``estimated``: segments
    are still being written (preview), so bandwidths come from the profile table."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    audio_codec = ""
    audio_peak = audio_avg = 0
    if audio is not None:
        a = ladder.AUDIO
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="{AUDIO_GROUP}",NAME="Original",DEFAULT=YES,'
                     f'AUTOSELECT=YES,CHANNELS="{a.channels}",URI="../{audio.folder}/index.m3u8"')
        audio_codec = "," + a.codecs_tag
        audio_peak = audio.peak_bandwidth if not estimated else a.bitrate_kbps * 1000
        audio_avg = audio.average_bandwidth if not estimated else a.bitrate_kbps * 1000
    start = ladder.fallback([v.rendition for v in videos if v.rendition])
    ordered = sorted(videos, key=lambda v: (v.rendition is not start, -(v.rendition.width if v.rendition else 0)))
    for track in ordered:
        rendition = track.rendition
        assert rendition is not None and track.init is not None
        if estimated:
            peak = avg = rendition.profile.maxrate(fps) * 1000
        else:
            peak, avg = track.peak_bandwidth, track.average_bandwidth
        attrs = [f"BANDWIDTH={peak + audio_peak}", f"AVERAGE-BANDWIDTH={avg + audio_avg}",
                 f"RESOLUTION={rendition.width}x{rendition.height}", f"FRAME-RATE={_frame_rate(fps)}",
                 f'CODECS="{codec_string(track.init, rendition.profile.codec)}{audio_codec}"']
        if audio is not None:
            attrs.append(f'AUDIO="{AUDIO_GROUP}"')
        lines += ["#EXT-X-STREAM-INF:" + ",".join(attrs), f"../{track.folder}/index.m3u8"]
    return "\n".join(lines) + "\n"


def _timeline(parent: ET.Element, track: Track) -> None:
    timeline = ET.SubElement(parent, "SegmentTimeline")
    elapsed = 0.0
    runs: list[list[int]] = []  # [start, duration, repeat]
    for segment in track.segments:
        start, end = round(elapsed * 1000), round((elapsed + segment.duration) * 1000)
        elapsed += segment.duration
        if runs and runs[-1][1] == end - start:
            runs[-1][2] += 1
        else:
            runs.append([start, end - start, 0])
    for start, duration, repeat in runs:
        attrs = {"t": str(start), "d": str(duration)}
        if repeat:
            attrs["r"] = str(repeat)
        ET.SubElement(timeline, "S", attrs)


def _template(parent: ET.Element, track: Track) -> None:
    template = ET.SubElement(parent, "SegmentTemplate", {
        "timescale": "1000", "initialization": f"{track.folder}/init.mp4",
        "media": f"{track.folder}/seg_$Number%05d$.m4s", "startNumber": "0"})
    _timeline(template, track)


def dash_manifest(videos: list[Track], audio: Track | None, fps: Fraction, duration: float) -> str:
    """A static MPD over the same CMAF segments as the HLS playlists (one adaptation set per
    video codec, one for the sound)."""
    mpd = ET.Element("MPD", {
        "xmlns": "urn:mpeg:dash:schema:mpd:2011", "type": "static", "minBufferTime": "PT2S",
        "profiles": "urn:mpeg:dash:profile:isoff-live:2011,urn:mpeg:dash:profile:cmaf:2019",
        "mediaPresentationDuration": f"PT{duration:.3f}S"})
    # Segment paths are relative to the clip's folder, one level above dash/.
    ET.SubElement(mpd, "BaseURL").text = "../"
    period = ET.SubElement(mpd, "Period", {"id": "0", "start": "PT0S"})
    codecs = sorted({v.rendition.profile.codec for v in videos if v.rendition}, key=lambda c: c != "h264")
    rate = f"{fps.numerator}/{fps.denominator}" if fps.denominator != 1 else str(fps.numerator)
    for set_id, codec in enumerate(codecs):
        group = [v for v in videos if v.rendition and v.rendition.profile.codec == codec]
        adaptation = ET.SubElement(period, "AdaptationSet", {
            "id": str(set_id), "contentType": "video", "mimeType": "video/mp4", "segmentAlignment": "true",
            "startWithSAP": "1", "frameRate": rate,
            "maxWidth": str(max(v.rendition.width for v in group if v.rendition)),
            "maxHeight": str(max(v.rendition.height for v in group if v.rendition))})
        for track in group:
            assert track.rendition is not None and track.init is not None
            rep = ET.SubElement(adaptation, "Representation", {
                "id": track.rendition.name, "codecs": codec_string(track.init, codec),
                "bandwidth": str(track.peak_bandwidth), "width": str(track.rendition.width),
                "height": str(track.rendition.height), "sar": "1:1"})
            _template(rep, track)
    if audio is not None and audio.init is not None:
        a = ladder.AUDIO
        adaptation = ET.SubElement(period, "AdaptationSet", {
            "id": str(len(codecs)), "contentType": "audio", "mimeType": "audio/mp4", "segmentAlignment": "true",
            "startWithSAP": "1", "lang": "und"})
        rep = ET.SubElement(adaptation, "Representation", {
            "id": "audio", "codecs": a.codecs_tag, "bandwidth": str(audio.peak_bandwidth),
            "audioSamplingRate": str(a.sample_rate)})
        ET.SubElement(rep, "AudioChannelConfiguration", {
            "schemeIdUri": "urn:mpeg:dash:23003:3:audio_channel_configuration:2011", "value": str(a.channels)})
        _template(rep, audio)
    ET.indent(mpd)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(mpd, encoding="unicode") + "\n"


def _join(track: Track, target: Path) -> Path:
    assert track.init is not None
    with target.open("wb") as out:
        for part in [track.init, *(track.local / s.name for s in track.segments)]:
            out.write(part.read_bytes())
    return target


async def fallback_mp4(video: Track, audio: Track | None, workdir: Path) -> Path:
    """A progressive, faststart MP4 of one rendition (players without HLS/DASH, downloads):
    the fragments joined and remuxed, never re-encoded."""
    target = workdir / "fallback.mp4"
    args = ["-i", str(_join(video, workdir / "fallback-video.mp4"))]
    maps = ["-map", "0:v:0"]
    if audio is not None:
        args += ["-i", str(_join(audio, workdir / "fallback-audio.mp4"))]
        maps += ["-map", "1:a:0"]
    await run([*args, *maps, "-c", "copy", "-movflags", "+faststart", str(target)], timeout=600)
    return target
