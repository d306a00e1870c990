"""Clip routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from clipfeed.accounts import service as accounts
from clipfeed.clips import service
from clipfeed.clips.models import ClipCreate, ClipPage, ClipPublic, ClipUpdate
from clipfeed.core.errors import NotFound
from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.delivery import playback as delivery
from clipfeed.http.deps import CurrentUser, Deps, OptionalUser
from clipfeed.http.params import ClipId
from clipfeed.http.replicas import StaleReadsOk
from clipfeed.social import service as social

router = APIRouter(prefix="/v1", tags=["clips"])


@router.post("/clips", status_code=status.HTTP_201_CREATED, response_model=ClipPublic)
async def create_clip(body: ClipCreate, user: CurrentUser, services: Deps) -> ClipPublic:
    """A draft clip in ``uploading`` state; attach the video with a tus upload."""
    clip = await service.create_draft(db=services.db, outbox=services.outbox, ids=services.ids,
                                      owner_id=user.id, request=body)
    return service.public_view(clip, owner_handle=user.handle)


@router.get("/clips/{clip_id}", response_model=ClipPublic, dependencies=[StaleReadsOk])
async def get_clip(clip_id: ClipId, viewer: OptionalUser, services: Deps) -> ClipPublic:
    clip = await social.visible_clip(db=services.db, clip_id=clip_id, viewer_id=viewer.id if viewer else None)
    owners = await accounts.get_many(db=services.db, user_ids=[clip.owner_id])
    owner = owners.get(clip.owner_id)
    media = await delivery.clip_media(services=services, clip=clip, viewer_id=viewer.id if viewer else None)
    return service.public_view(clip, owner_handle=owner.handle if owner else None, url_for=lambda _: media,
                               viewer_id=viewer.id if viewer else None)


@router.patch("/clips/{clip_id}", response_model=ClipPublic)
async def update_clip(clip_id: ClipId, body: ClipUpdate, user: CurrentUser, services: Deps) -> ClipPublic:
    clip = await service.update(db=services.db, outbox=services.outbox, clip_id=clip_id,
                                user_id=user.id, request=body)
    return service.public_view(clip, owner_handle=user.handle)


@router.delete("/clips/{clip_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_clip(clip_id: ClipId, user: CurrentUser, services: Deps) -> Response:
    await service.delete(db=services.db, blobs=services.blobs, outbox=services.outbox,
                         clip_id=clip_id, user_id=user.id, as_moderator=user.is_moderator)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users/{handle}/clips", response_model=ClipPage, dependencies=[StaleReadsOk])
async def list_user_clips(handle: str, viewer: OptionalUser, services: Deps,
                          cursor: str | None = None,
                          limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> ClipPage:
    owner = await accounts.get_by_handle(db=services.db, handle=handle)
    if viewer is not None and await social.is_blocked(db=services.db, a=viewer.id, b=owner.id):
        raise NotFound(f"no user @{handle}")
    clips, next_cursor = await service.list_by_owner(
        db=services.db, owner_id=owner.id, viewer_id=viewer.id if viewer else None,
        cursor=cursor, limit=limit)
    return service.page_view(clips, next_cursor, owner_handle=owner.handle, url_for=delivery.url_builder(
        services.settings, viewer_id=viewer.id if viewer else None), viewer_id=viewer.id if viewer else None)
