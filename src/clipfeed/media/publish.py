"""Putting renditions into the object store while FFmpeg is still writing them.

Segments go up as soon as FFmpeg lists them, so the smallest rendition is playable seconds
after the job starts (a preview master playlist points at it and at the sound track, both as
growing EVENT playlists) and little is left to upload when the encode ends. The final
manifests replace the preview ones at the same keys.

Every key written is remembered, so the job can record the clip's complete object list.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from clipfeed.infra.blobs import BlobStore
from clipfeed.media import ladder, packaging, regroup
from clipfeed.media.ladder import Rendition
from clipfeed.media.packaging import Track

UPLOADS_AT_ONCE = 8


@dataclass
class Publisher:
    blobs: BlobStore
    prefix: str                      # clips/{id}/
    outdir: Path                     # FFmpeg's output folder
    rungs: tuple[Rendition, ...]
    fps: Fraction
    has_audio: bool
    on_preview: Callable[[str], Awaitable[None]] | None = None
    copy_top: bool = False           # the top rung is copied: its segments are regrouped first
    written: set[str] = field(default_factory=set)
    _previewed: bool = False
    _gate: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(UPLOADS_AT_ONCE))

    def key(self, relative: str) -> str:
        return self.prefix + relative

    async def _put_file(self, relative: str, path: Path) -> None:
        async with self._gate:
            await self.blobs.put_file(self.key(relative), path,
                                      content_type=packaging.CONTENT_TYPES.get(path.suffix))
        self.written.add(self.key(relative))

    async def put_text(self, relative: str, text: str) -> None:
        content_type = packaging.CONTENT_TYPES.get(Path(relative).suffix)
        await self.blobs.put(self.key(relative), text.encode(), content_type=content_type)
        self.written.add(self.key(relative))

    def tracks(self) -> tuple[list[Track], Track | None]:
        if self.copy_top:
            top = self.rungs[0].name
            regroup.regroup(self.outdir / regroup.parts_folder(top), self.outdir / top, self.fps)
        videos = [packaging.read_track(self.outdir / r.name, r) for r in self.rungs]
        audio = packaging.read_track(self.outdir / packaging.AUDIO_DIR) if self.has_audio else None
        return videos, audio

    async def sync(self) -> tuple[list[Track], Track | None]:
        """Upload whatever FFmpeg has finished since the last call."""
        videos, audio = self.tracks()
        jobs = []
        for track in [*videos, *([audio] if audio else [])]:
            if track.init is not None and self.key(f"{track.folder}/init.mp4") not in self.written:
                jobs.append(self._put_file(f"{track.folder}/init.mp4", track.init))
            for segment in track.segments:
                if self.key(f"{track.folder}/{segment.name}") not in self.written:
                    jobs.append(self._put_file(f"{track.folder}/{segment.name}", track.local / segment.name))
        await asyncio.gather(*jobs)
        if not self._previewed:
            await self._preview(videos, audio)
        return videos, audio

    async def _preview(self, videos: list[Track], audio: Track | None) -> None:
        # The smallest H.264 rendition that has a segment already (small rungs with slower
        # presets look further ahead, so a bigger one may be first).
        ready = [t for t in videos if t.segments and t.rendition and t.rendition.profile.codec == "h264"]
        if not ready or (audio is not None and not audio.segments):
            return
        smallest = ready[-1]
        await self.put_text(f"{smallest.folder}/index.m3u8", packaging.media_playlist(smallest, ended=False))
        if audio is not None:
            await self.put_text(f"{audio.folder}/index.m3u8", packaging.media_playlist(audio, ended=False))
        await self.put_text("hls/master.m3u8", packaging.master_playlist([smallest], audio, self.fps, estimated=True))
        self._previewed = True
        if self.on_preview is not None:
            await self.on_preview(self.key("hls/master.m3u8"))

    async def follow(self, encoding: asyncio.Task[object], *, every: float = 0.3) -> None:
        """Upload segments as they appear until ``encoding`` finishes (its errors are the
        caller's to see: this returns quietly when the encode fails)."""
        while not encoding.done():
            await asyncio.wait({encoding}, timeout=every)
            try:
                await self.sync()
            except FileNotFoundError:  # FFmpeg renamed a file under us; next round
                continue

    async def finish(self, duration: float, workdir: Path) -> dict[str, object]:
        """Upload the rest and the final manifests; return the media pointers for the clip."""
        videos, audio = await self.sync()
        for track in [*videos, *([audio] if audio else [])]:
            await self.put_text(f"{track.folder}/index.m3u8", packaging.media_playlist(track, ended=True))
        fallback_rung = ladder.fallback(list(self.rungs))
        fallback_track = next(v for v in videos if v.rendition == fallback_rung)
        mp4 = await packaging.fallback_mp4(fallback_track, audio, workdir)
        await self._put_file("mp4/fallback.mp4", mp4)
        await self.put_text("dash/manifest.mpd", packaging.dash_manifest(videos, audio, self.fps, duration))
        await self.put_text("hls/master.m3u8", packaging.master_playlist(videos, audio, self.fps))
        renditions = {}
        for track in videos:
            assert track.rendition is not None and track.init is not None
            renditions[track.rendition.name] = {
                "codec": packaging.codec_string(track.init, track.rendition.profile.codec),
                "width": track.rendition.width, "height": track.rendition.height,
                "bandwidth": track.peak_bandwidth, "average_bandwidth": track.average_bandwidth,
                "playlist": self.key(f"{track.folder}/index.m3u8"), "segments": len(track.segments)}
        sound = None if audio is None else {
            "codec": ladder.AUDIO.codecs_tag, "bandwidth": audio.peak_bandwidth,
            "playlist": self.key(f"{audio.folder}/index.m3u8"), "segments": len(audio.segments)}
        return {"hls": self.key("hls/master.m3u8"), "dash": self.key("dash/manifest.mpd"),
                "mp4": self.key("mp4/fallback.mp4"), "renditions": renditions, "audio": sound}
