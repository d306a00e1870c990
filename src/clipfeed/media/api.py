"""Media routes: re-editing a clip (the edit list format is in ``clipfeed.media.edits``)."""

from __future__ import annotations

from fastapi import APIRouter, status

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipPublic
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.http.params import ClipId
from clipfeed.media import service
from clipfeed.media.edits import EditList

router = APIRouter(prefix="/v1", tags=["media"])


@router.post("/clips/{clip_id}/edits", status_code=status.HTTP_202_ACCEPTED, response_model=ClipPublic)
async def reedit_clip(clip_id: ClipId, body: EditList, user: CurrentUser, services: Deps) -> ClipPublic:
    """Apply a new edit list to the original upload (creator only); the clip is processed again
    and follows ``GET /v1/clips/{id}/status`` until it is ready."""
    clip = await service.reedit(services=services, clip_id=clip_id, user_id=user.id, edits=body)
    return clips_service.public_view(clip, owner_handle=user.handle)
