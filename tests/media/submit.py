"""Handing a video to the media pipeline the way the upload hand-off does, and reading back
what it made."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipCreate, ClipStatus
from clipfeed.core.events import Event
from clipfeed.infra.log import Record
from clipfeed.runtime.services import Services
from tests.services import shared_media

SHARED = shared_media()


async def creator(*, services: Services) -> int:
    handle = "c" + uuid.uuid4().hex[:10]
    user = await accounts.create_user(db=services.db, outbox=services.outbox, ids=services.ids,
                                      settings=services.settings, handle=handle, email=f"{handle}@example.com",
                                      password="correct horse battery")
    return int(user.id)


async def submit(video: Path, *, services: Services, owner_id: int | None = None, caption: str = "",
                 edits: dict[str, Any] | None = None, publish: bool = True) -> Event:
    """A clip in ``processing`` with its master stored, and the ``media.uploaded`` event."""
    owner_id = owner_id or await creator(services=services)
    clip = await clips_service.create_draft(db=services.db, outbox=services.outbox, ids=services.ids,
                                            owner_id=owner_id, request=ClipCreate(caption=caption))
    key = f"clips/{clip.id}/raw/master{video.suffix}"
    await services.blobs.put_file(key, video)
    await clips_service.set_status(db=services.db, outbox=services.outbox, clip_id=clip.id,
                                   status=ClipStatus.processing, media={"master": key})
    event = Event(id=services.ids.next_id(), type="media.uploaded", key=str(clip.id), actor_id=owner_id, payload={
        "clip_id": str(clip.id), "owner_id": str(owner_id), "master_key": key, "filename": video.name,
        "size": video.stat().st_size, "sha256": "", "edits": edits, "upload_id": "1"})
    if publish:
        await services.log.append("media.uploaded", event.encode(), key=str(clip.id).encode())
    return event


async def clip_row(clip_id: int, *, services: Services) -> Clip:
    return (await clips_service.get_many(db=services.db, clip_ids=[clip_id]))[clip_id]


async def object_keys(clip_id: int, *, services: Services) -> list[str]:
    return [info.key async for info in services.blobs.list(f"clips/{clip_id}/")]


OUTCOMES = ("clip.ready", "clip.review", "clip.rejected", "clip.failed")


async def outcomes(clip_id: int | None = None, *, services: Services) -> list[Event]:
    """The clip.<status> events that end media jobs, as published so far (after an outbox flush)."""
    await services.outbox.flush()
    return [e for e in await topic_events("clips", clip_id, services=services) if e.type in OUTCOMES]


async def topic_events(topic: str, clip_id: int | None = None, *, services: Services) -> list[Event]:
    try:
        partitions = await services.log.partitions(topic)
    except Exception:
        return []
    records: list[Record] = []
    for p in range(partitions):
        records += await services.log.read(topic, p, from_offset=0, limit=10_000)
    events = [Event.decode(r.value) for r in records]
    return [e for e in events if clip_id is None or e.key == str(clip_id)]


def ffprobe(path: Path | str, *args: str) -> str:
    return subprocess.run(["ffprobe", "-v", "error", *args, str(path)], check=True, capture_output=True,
                          text=True).stdout


def make_clip(path: Path, *, size: str = "640x360", seconds: float = 4, rate: int = 25, audio: bool = True,
              vf: str = "", extra: list[str] | None = None) -> Path:
    """A test clip with motion (testsrc2) and a tone, encoded fast."""
    if path.exists():
        return path
    args = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}"]
    if audio:
        args += ["-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000"]
    args += ["-t", str(seconds)]
    if vf:
        args += ["-vf", vf]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    args += ["-c:a", "aac", "-b:a", "96k"] if audio else ["-an"]
    subprocess.run([*args, *(extra or []), str(path)], check=True)
    return path
