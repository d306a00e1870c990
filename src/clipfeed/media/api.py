"""Media routes: re-editing a clip (the edit list format is in ``clipfeed.media.edits``), the
sound library and the overlay font the editor previews with."""

from __future__ import annotations

import time

from fastapi import APIRouter, status
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, Field

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipPublic
from clipfeed.core.errors import Conflict
from clipfeed.delivery.signing import Signer
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.http.params import ClipId
from clipfeed.media import service, sounds
from clipfeed.media.edits import EditList
from clipfeed.media.transcode import FONT

router = APIRouter(prefix="/v1", tags=["media"])
FONT_CACHE = "public, max-age=86400"


@router.post("/clips/{clip_id}/edits", status_code=status.HTTP_202_ACCEPTED, response_model=ClipPublic)
async def reedit_clip(clip_id: ClipId, body: EditList, user: CurrentUser, services: Deps) -> ClipPublic:
    """Apply a new edit list to the original upload (creator only); the clip is processed again
    and follows ``GET /v1/clips/{id}/status`` until it is ready."""
    clip = await service.reedit(services=services, clip_id=clip_id, user_id=user.id, edits=body)
    return clips_service.public_view(clip, owner_handle=user.handle)


class SoundPublic(BaseModel):
    key: str = Field(description="the object key to put in an edit list's audio.key")
    name: str
    title: str
    duration: float = Field(description="seconds")
    preview_url: str = Field(description="a signed, expiring URL of the sound (AAC in MP4)")


class SoundList(BaseModel):
    items: list[SoundPublic]


@router.get("/sounds", response_model=SoundList)
async def list_sounds(user: CurrentUser, services: Deps) -> SoundList:
    """The sound library a creator can lay under a clip (made by the media worker when it
    starts; a sound not yet made is not listed)."""
    settings = services.settings
    expires = int(time.time()) + settings.media_url_ttl_s
    prefix = (f"{settings.base_url.rstrip('/')}/media/"
              f"{Signer.from_settings(settings).token(sounds.SCOPE, expires)}/")
    return SoundList(items=[SoundPublic(key=sound.key, name=sound.name, title=sound.title, duration=sound.duration,
                                        preview_url=prefix + sound.key)
                            for sound in await sounds.available(services=services)])


@router.get("/fonts/overlay.ttf", response_class=FileResponse,
            responses={200: {"content": {"font/ttf": {}}, "description": "the font file"}})
async def overlay_font() -> FileResponse:
    """The font the transcoder draws text overlays with, for the editor's preview (DejaVu Sans,
    shipped in the package: the preview and the render use the same file)."""
    return FileResponse(FONT, media_type="font/ttf", headers={"Cache-Control": FONT_CACHE})


class ClipEdits(BaseModel):
    edits: EditList = Field(description="the edit list the clip's current renditions were made with")
    original_url: str = Field(description="where the creator's editor reads the original upload (bearer token)")


@router.get("/clips/{clip_id}/edits", response_model=ClipEdits)
async def clip_edits(clip_id: ClipId, user: CurrentUser, services: Deps) -> ClipEdits:
    """The clip's current edit list, for re-editing it (creator only)."""
    clip = await service.own_clip(services=services, clip_id=clip_id, user_id=user.id)
    raw = (clip.media or {}).get("edits")
    return ClipEdits(edits=EditList.model_validate(raw if isinstance(raw, dict) else {}),
                     original_url=f"/v1/clips/{clip_id}/original")


@router.get("/clips/{clip_id}/original", response_class=StreamingResponse,
            responses={200: {"content": {"video/*": {}}, "description": "the original upload, as sent"}})
async def clip_original(clip_id: ClipId, user: CurrentUser, services: Deps) -> StreamingResponse:
    """The creator's original upload (kept to re-edit from), for the editor's preview: the
    renditions carry the old edits (text drawn in, trimmed), the original does not."""
    clip = await service.own_clip(services=services, clip_id=clip_id, user_id=user.id)
    master = (clip.media or {}).get("master")
    if not isinstance(master, str):
        raise Conflict("the original video of this clip is not kept")
    info = await services.blobs.stat(master)
    return StreamingResponse(services.blobs.open_read(master), media_type=info.content_type or "video/mp4",
                             headers={"Content-Length": str(info.size), "Cache-Control": "private, no-store"})
