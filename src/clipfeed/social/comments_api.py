"""Routes: comments, replies, likes on comments, pinning and per-clip comment settings."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.http.deps import CurrentUser, Deps, OptionalUser
from clipfeed.http.idempotency import IdempotentRoute
from clipfeed.http.params import ClipId, CommentId
from clipfeed.http.replicas import StaleReadsOk
from clipfeed.social import comment_settings, comments
from clipfeed.social.comment_reads import CommentSort, list_comments, list_replies
from clipfeed.social.limits import hit_comment, hit_write
from clipfeed.social.schemas import (
    CommentCreate,
    CommentDeleted,
    CommentLikeState,
    CommentPage,
    CommentPublic,
    CommentSettings,
    CommentSettingsUpdate,
    CommentUpdate,
)

router = APIRouter(prefix="/v1", tags=["comments"], route_class=IdempotentRoute)
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("/clips/{clip_id}/comments", response_model=CommentPage, dependencies=[StaleReadsOk])
async def list_clip_comments(clip_id: ClipId, viewer: OptionalUser, services: Deps, sort: CommentSort = CommentSort.top,
                             cursor: str | None = None, limit: Limit = DEFAULT_LIMIT) -> CommentPage:
    """Top-level comments, the pinned one first; ``sort=top`` (most liked) or ``new``."""
    return await list_comments(services=services, viewer_id=viewer.id if viewer else None, clip_id=clip_id,
                               sort=sort, cursor=cursor, limit=limit)


@router.post("/clips/{clip_id}/comments", status_code=status.HTTP_201_CREATED, response_model=CommentPublic)
async def create_comment(clip_id: ClipId, body: CommentCreate, user: CurrentUser, services: Deps) -> CommentPublic:
    """Comment or reply (``parent_id``). Text the filter rejects is a 422 with ``reasons``;
    text it doubts is ``held`` (only you see it) until a moderator decides."""
    await hit_comment(user, services=services)
    return await comments.create(services=services, user=user, clip_id=clip_id, request=body)


@router.get("/clips/{clip_id}/comments/{comment_id}/replies", response_model=CommentPage, dependencies=[StaleReadsOk])
async def replies(clip_id: ClipId, comment_id: CommentId, viewer: OptionalUser, services: Deps,
                  cursor: str | None = None, limit: Limit = DEFAULT_LIMIT) -> CommentPage:
    return await list_replies(services=services, viewer_id=viewer.id if viewer else None, clip_id=clip_id,
                              comment_id=comment_id, cursor=cursor, limit=limit)


@router.patch("/clips/{clip_id}/comments/{comment_id}", response_model=CommentPublic)
async def edit_comment(clip_id: ClipId, comment_id: CommentId, body: CommentUpdate, user: CurrentUser,
                       services: Deps) -> CommentPublic:
    """The author, within ``CLIPFEED_SOCIAL_COMMENT_EDIT_WINDOW_S`` of posting."""
    await hit_comment(user, services=services)
    return await comments.edit(services=services, user=user, clip_id=clip_id, comment_id=comment_id, request=body)


@router.delete("/clips/{clip_id}/comments/{comment_id}", response_model=CommentDeleted)
async def delete_comment(clip_id: ClipId, comment_id: CommentId, user: CurrentUser, services: Deps) -> CommentDeleted:
    """The author or the clip's creator; a top-level comment takes its replies with it."""
    return await comments.delete(services=services, user=user, clip_id=clip_id, comment_id=comment_id)


@router.put("/clips/{clip_id}/comments/{comment_id}/like", response_model=CommentLikeState)
async def like_comment(clip_id: ClipId, comment_id: CommentId, user: CurrentUser, services: Deps) -> CommentLikeState:
    await hit_write(user, "comment_like", services=services)
    return await comments.set_like(services=services, user=user, clip_id=clip_id, comment_id=comment_id, liked=True)


@router.delete("/clips/{clip_id}/comments/{comment_id}/like", response_model=CommentLikeState)
async def unlike_comment(clip_id: ClipId, comment_id: CommentId, user: CurrentUser,
                         services: Deps) -> CommentLikeState:
    await hit_write(user, "comment_like", services=services)
    return await comments.set_like(services=services, user=user, clip_id=clip_id, comment_id=comment_id, liked=False)


@router.put("/clips/{clip_id}/comments/{comment_id}/pin", response_model=CommentPublic)
async def pin_comment(clip_id: ClipId, comment_id: CommentId, user: CurrentUser, services: Deps) -> CommentPublic:
    """The clip's creator pins one top-level comment (replacing any other pin)."""
    return await comments.pin(services=services, user=user, clip_id=clip_id, comment_id=comment_id, pinned=True)


@router.delete("/clips/{clip_id}/comments/{comment_id}/pin", response_model=CommentPublic)
async def unpin_comment(clip_id: ClipId, comment_id: CommentId, user: CurrentUser, services: Deps) -> CommentPublic:
    return await comments.pin(services=services, user=user, clip_id=clip_id, comment_id=comment_id, pinned=False)


@router.get("/clips/{clip_id}/comment-settings", response_model=CommentSettings)
async def get_comment_settings(clip_id: ClipId, viewer: OptionalUser, services: Deps) -> CommentSettings:
    return await comment_settings.read(services=services, viewer_id=viewer.id if viewer else None, clip_id=clip_id)


@router.put("/clips/{clip_id}/comment-settings", response_model=CommentSettings)
async def put_comment_settings(clip_id: ClipId, body: CommentSettingsUpdate, user: CurrentUser,
                               services: Deps) -> CommentSettings:
    """The creator: ``everyone``, ``followers`` (of the creator) or ``off``."""
    return await comment_settings.update(services=services, user=user, clip_id=clip_id, comments=body.comments)
