"""The shape of a clip's HLS ladder, read from its playlists (wherever its tier keeps them) and
kept in the cache. Below delivery, which hints start renditions and prefetches from it.

From the master playlist: each rendition's name, height class (the *short* side, so a portrait
1080×1920 clip is "1080p") and bandwidth; from each media playlist: its init segment and first
segments. Playback info needs this to hint a start rendition and list what to prefetch; it
changes only when the lifecycle drops or re-creates renditions, which calls ``forget_layout``.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import orjson

from clipfeed.core.errors import Unavailable
from clipfeed.core.singleflight import SingleFlight
from clipfeed.infra.blobs import BlobNotFound
from clipfeed.storage import service as storage

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

LAYOUT_TTL_S = 86400.0
FIRST_SEGMENTS = 3
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


@dataclass
class RenditionLayout:
    name: str
    height: int
    bandwidth: int
    playlist: str
    codecs: str = ""
    init: str | None = None
    segments: list[str] = field(default_factory=list)


@dataclass
class Layout:
    renditions: list[RenditionLayout] = field(default_factory=list)  # lowest first
    audio: RenditionLayout | None = None  # the separate sound track, when there is one

    def start_for(self, max_height: int) -> RenditionLayout | None:
        """The tallest H.264 rendition not above ``max_height`` (every device decodes H.264;
        the player may switch to HEVC or AV1 later), else the lowest one."""
        usable = [r for r in self.renditions if r.codecs.startswith("avc1")] or self.renditions
        fitting = [r for r in usable if r.height <= max_height]
        if fitting:
            return fitting[-1]
        return usable[0] if usable else None


def layout_key(clip_id: int) -> str:
    return f"delivery:layout:{clip_id}"


def attributes(line: str) -> dict[str, str]:
    return {name: value.strip('"') for name, value in _ATTRIBUTE.findall(line.partition(":")[2])}


def parse_master(text: str, master_key: str) -> tuple[list[RenditionLayout], RenditionLayout | None]:
    """Video renditions (lowest first) and the audio track of a master playlist."""
    base = posixpath.dirname(master_key)
    found: list[RenditionLayout] = []
    audio: RenditionLayout | None = None
    pending: dict[str, str] | None = None
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("#EXT-X-MEDIA:") and audio is None:
            media = attributes(line)
            if media.get("TYPE") == "AUDIO" and media.get("URI"):
                audio = RenditionLayout(name="audio", height=0, bandwidth=0,
                                        playlist=posixpath.normpath(posixpath.join(base, media["URI"])))
        elif line.startswith("#EXT-X-STREAM-INF:"):
            pending = attributes(line)
        elif line and not line.startswith("#") and pending is not None:
            key = posixpath.normpath(posixpath.join(base, line))
            width, _, height = pending.get("RESOLUTION", "0x0").partition("x")
            short = min(int(width or 0), int(height or 0))
            folder = posixpath.basename(posixpath.dirname(key))
            found.append(RenditionLayout(name=folder or f"{short}p", height=short,
                                         bandwidth=int(pending.get("BANDWIDTH", "0") or 0), playlist=key,
                                         codecs=pending.get("CODECS", "")))
            pending = None
    return sorted(found, key=lambda r: (r.height, r.bandwidth)), audio


def parse_media(text: str, playlist_key: str, rendition: RenditionLayout) -> None:
    base = posixpath.dirname(playlist_key)
    for line in (raw.strip() for raw in text.splitlines()):
        if line.startswith("#EXT-X-MAP:") and "URI" in attributes(line):
            rendition.init = posixpath.normpath(posixpath.join(base, attributes(line)["URI"]))
        elif line and not line.startswith("#"):
            rendition.segments.append(posixpath.normpath(posixpath.join(base, line)))
            if len(rendition.segments) >= FIRST_SEGMENTS:
                return


# Playback of a clip whose layout is not cached reads its playlists once per process, however
# many viewers start it at that moment (core/singleflight.py).
_READING: SingleFlight[tuple[int, int, str], Layout] = SingleFlight()


async def clip_layout(*, services: Services, clip_id: int, master_key: str) -> Layout:
    try:
        cached = await services.cache.get(layout_key(clip_id))
    except Unavailable:  # the cache is down: the playlists are read (playback keeps working)
        cached = None
    if cached is not None:
        stored = orjson.loads(cached)
        return Layout([RenditionLayout(**r) for r in stored["renditions"]],
                      RenditionLayout(**stored["audio"]) if stored["audio"] else None)
    return await _READING.run((id(services), clip_id, master_key),
                              lambda: _read_layout(services=services, clip_id=clip_id, master_key=master_key))


async def _read_layout(*, services: Services, clip_id: int, master_key: str) -> Layout:
    layout = Layout()
    try:
        renditions, audio = parse_master(await _read(clip_id, master_key, services=services), master_key)
    except BlobNotFound:
        return layout  # no playlist yet: nothing to hint, nothing to cache
    for track in [*renditions, *([audio] if audio else [])]:
        try:
            parse_media(await _read(clip_id, track.playlist, services=services), track.playlist, track)
        except BlobNotFound:
            continue  # a rendition dropped in the cold tier: not offered
        if track is audio:
            layout.audio = audio
        else:
            layout.renditions.append(track)
    stored = {"renditions": [asdict(r) for r in layout.renditions],
              "audio": asdict(layout.audio) if layout.audio else None}
    with contextlib.suppress(Unavailable):  # not cached: read again next time
        await services.cache.set(layout_key(clip_id), orjson.dumps(stored), ttl=LAYOUT_TTL_S)
    return layout


async def forget_layout(*, services: Services, clip_id: int) -> None:
    await services.cache.delete(layout_key(clip_id))


async def _read(clip_id: int, key: str, *, services: Services) -> str:
    found = await storage.locate(services=services, clip_id=clip_id, key=key)
    return (await found.store.get(key)).decode("utf-8", "replace")
