"""A real CMAF ladder made with FFmpeg, laid out as the media pipeline lays out a clip.

``clips/{id}/hls/master.m3u8``, ``clips/{id}/v/{240p,360p,720p}/`` (``init.mp4``, ``seg_*.m4s``,
``index.m3u8``), ``dash/manifest.mpd``, ``mp4/fallback.mp4``, ``img/`` (posters, sprite, preview)
and ``raw/master.mp4``. Built once per process into a temporary folder, then uploaded under as
many clip IDs as a test wants. Used by the delivery and storage tests and by bench/delivery.py.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.services import shared_media

SAMPLE = shared_media() / "bigbuckbunny.mp4"
HEIGHTS = (240, 360, 720)
RENDITIONS = tuple(str(h) for h in HEIGHTS)  # the media pipeline names rungs "240", "360", ...
CONTENT_TYPES = {"m3u8": "application/vnd.apple.mpegurl", "mpd": "application/dash+xml", "m4s": "video/iso.segment",
                 "mp4": "video/mp4", "webp": "image/webp", "jpg": "image/jpeg", "vtt": "text/vtt"}


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@functools.cache
def ladder(seconds: float = 4.0) -> Path:
    """The folder holding one clip's files (keys relative to ``clips/{id}/``)."""
    out = Path(tempfile.mkdtemp(prefix="clipfeed-ladder-"))
    work = out / "_work"
    work.mkdir()
    split = ";".join([f"[0:v]split={len(HEIGHTS)}" + "".join(f"[s{i}]" for i in range(len(HEIGHTS))),
                      *(f"[s{i}]scale=-2:{h}[v{i}]" for i, h in enumerate(HEIGHTS))])
    maps = [arg for i in range(len(HEIGHTS)) for arg in ("-map", f"[v{i}]")]
    rates = [arg for i, h in enumerate(HEIGHTS) for arg in (f"-b:v:{i}", f"{h * 2}k")]
    streams = " ".join(f"v:{i},name:{name}" for i, name in enumerate(RENDITIONS))
    _ffmpeg("-i", str(SAMPLE), "-t", str(seconds), "-filter_complex", split, *maps, "-c:v", "libx264",
            "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0", *rates,
            "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
            "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", str(work / "v/%v/seg_%05d.m4s"),
            "-var_stream_map", streams, "-master_pl_name", "master.m3u8", str(work / "v/%v/index.m3u8"))
    for index, name in enumerate(RENDITIONS):
        folder = out / "v" / name
        folder.mkdir(parents=True)
        for item in (work / "v" / name).iterdir():
            target = "init.mp4" if item.name.startswith("init") else item.name
            shutil.move(item, folder / target)
        playlist = folder / "index.m3u8"
        playlist.write_text(playlist.read_text().replace(f"init_{index}.mp4", "init.mp4"))
    (out / "hls").mkdir()
    master = (work / "v" / "master.m3u8").read_text()
    for name in RENDITIONS:
        master = master.replace(f"\n{name}/index.m3u8", f"\n../v/{name}/index.m3u8")
    (out / "hls" / "master.m3u8").write_text(master)
    (out / "dash").mkdir()
    (out / "dash" / "manifest.mpd").write_text(_mpd(seconds))
    (out / "mp4").mkdir()
    _ffmpeg("-i", str(SAMPLE), "-t", str(seconds), "-vf", "scale=-2:360", "-c:v", "libx264", "-preset",
            "ultrafast", "-c:a", "aac", "-movflags", "+faststart", str(out / "mp4" / "fallback.mp4"))
    img = out / "img"
    img.mkdir()
    for ext in ("webp", "jpg"):
        _ffmpeg("-ss", "1", "-i", str(SAMPLE), "-frames:v", "1", "-vf", "scale=-2:360", str(img / f"poster_360.{ext}"))
    _ffmpeg("-i", str(SAMPLE), "-t", "3", "-vf", "fps=1,scale=160:-2,tile=3x1", "-frames:v", "1",
            str(img / "sprite.jpg"))
    cues = "".join(f"\n\n00:00:0{i}.000 --> 00:00:0{i + 1}.000\nsprite.jpg#xywh={160 * i},0,160,90"
                   for i in range(3))
    (img / "sprite.vtt").write_text("WEBVTT" + cues + "\n")
    (out / "raw").mkdir()
    shutil.copy(SAMPLE, out / "raw" / "master.mp4")
    shutil.rmtree(work)
    return out


@functools.cache
def ladder_with_audio(seconds: float = 4.0) -> Path:
    """The same ladder plus a separate sound track, as the pipeline lays out a clip with sound:
    ``a/`` (``index.m3u8``, ``init.mp4``, ``seg_*.m4s``) named by the master playlist's
    ``#EXT-X-MEDIA`` line."""
    out = Path(tempfile.mkdtemp(prefix="clipfeed-ladder-audio-"))
    shutil.copytree(ladder(seconds), out, dirs_exist_ok=True)
    (out / "a").mkdir()
    _ffmpeg("-i", str(SAMPLE), "-t", str(seconds), "-vn", "-c:a", "aac", "-b:a", "64k", "-f", "hls",
            "-hls_time", "1", "-hls_playlist_type", "vod", "-hls_segment_type", "fmp4",
            "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename", str(out / "a" / "seg_%05d.m4s"),
            str(out / "a" / "index.m3u8"))
    master = (out / "hls" / "master.m3u8").read_text().replace("#EXT-X-STREAM-INF:", '#EXT-X-STREAM-INF:AUDIO="aud",')
    head, _, rest = master.partition("\n")
    (out / "hls" / "master.m3u8").write_text(
        f'{head}\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="sound",DEFAULT=YES,URI="../a/index.m3u8"\n{rest}')
    return out


def _mpd(seconds: float) -> str:
    representations = "".join(
        f'<Representation id="{name}" bandwidth="{h * 2000}" height="{h}" '
        'codecs="avc1.42c01e">'
        f'<SegmentTemplate initialization="../v/{name}/init.mp4" media="../v/{name}/seg_$Number%05d$.m4s" '
        f'startNumber="0" duration="1" timescale="1"/></Representation>'
        for name, h in zip(RENDITIONS, HEIGHTS, strict=True))
    return ('<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" '
            f'mediaPresentationDuration="PT{seconds}S" profiles="urn:mpeg:dash:profile:isoff-live:2011">'
            f'<Period><AdaptationSet mimeType="video/mp4" segmentAlignment="true">{representations}'
            '</AdaptationSet></Period></MPD>\n')


def media_pointers(clip_id: int) -> dict[str, object]:
    """Pointers as the media pipeline records them in ``clip.media``."""
    base = f"clips/{clip_id}/"
    images = {name: base + "img/" + name for name in ("poster_360.webp", "poster_360.jpg", "sprite.jpg", "sprite.vtt")}
    return {"hls": base + "hls/master.m3u8", "dash": base + "dash/manifest.mpd", "mp4": base + "mp4/fallback.mp4",
            "poster": images["poster_360.webp"], "images": images, "audio": False,
            "renditions": {name: {"height": h, "playlist": base + f"v/{name}/index.m3u8"}
                           for name, h in zip(RENDITIONS, HEIGHTS, strict=False)}}


async def upload(store: Any, clip_id: int, folder: Path | None = None) -> int:
    """Put the ladder's files under ``clips/{clip_id}/`` in ``store``; returns the byte count."""
    folder = folder or ladder()
    total = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"clips/{clip_id}/{path.relative_to(folder).as_posix()}"
        await store.put_file(key, path, content_type=CONTENT_TYPES.get(path.suffix.lstrip(".")))
        total += path.stat().st_size
    return total


async def publish(*, services: Any, owner_id: int, visibility: str = "public", store: Any = None,
                  caption: str = "a clip", folder: Path | None = None) -> Any:
    """A ready clip with the ladder as its media (as the media pipeline leaves one)."""
    from clipfeed.clips import service as clips
    from clipfeed.clips.models import ClipCreate, ClipStatus, Visibility

    clip = await clips.create_draft(db=services.db, outbox=services.outbox, ids=services.ids, owner_id=owner_id,
                                    request=ClipCreate(caption=caption, visibility=Visibility(visibility)))
    await upload(store or services.blobs, clip.id, folder)
    return await clips.set_status(db=services.db, outbox=services.outbox, clip_id=clip.id, status=ClipStatus.ready,
                                  media=media_pointers(clip.id), technical={"width": 1280, "height": 720,
                                                                              "duration_ms": 4000})
