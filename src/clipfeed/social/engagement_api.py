"""Routes: likes, bookmarks, engagement (counts + own flags), saved lists, shares."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from clipfeed.core.errors import Invalid, NotFound
from clipfeed.core.identifiers import ID_DIGITS, parse_id
from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.http.deps import CurrentUser, Deps, OptionalUser
from clipfeed.http.idempotency import IdempotentRoute
from clipfeed.http.params import ClipId
from clipfeed.http.replicas import StaleReadsOk
from clipfeed.social import access, engagement, shares
from clipfeed.social.limits import hit_write
from clipfeed.social.schemas import (
    BookmarkState,
    Engagement,
    EngagementList,
    LikeState,
    SavedClipPage,
    ShareCreate,
    SharePublic,
)

router = APIRouter(prefix="/v1", tags=["social"], route_class=IdempotentRoute)
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.put("/clips/{clip_id}/like", response_model=LikeState)
async def like(clip_id: ClipId, user: CurrentUser, services: Deps) -> LikeState:
    """Like (idempotent). ``like_count_estimate`` already includes this like."""
    await hit_write(user, "like", services=services)
    return await engagement.set_like(services=services, user=user, clip_id=clip_id, liked=True)


@router.delete("/clips/{clip_id}/like", response_model=LikeState)
async def unlike(clip_id: ClipId, user: CurrentUser, services: Deps) -> LikeState:
    await hit_write(user, "like", services=services)
    return await engagement.set_like(services=services, user=user, clip_id=clip_id, liked=False)


@router.put("/clips/{clip_id}/bookmark", response_model=BookmarkState)
async def bookmark(clip_id: ClipId, user: CurrentUser, services: Deps) -> BookmarkState:
    await hit_write(user, "bookmark", services=services)
    return await engagement.set_bookmark(services=services, user=user, clip_id=clip_id, bookmarked=True)


@router.delete("/clips/{clip_id}/bookmark", response_model=BookmarkState)
async def unbookmark(clip_id: ClipId, user: CurrentUser, services: Deps) -> BookmarkState:
    await hit_write(user, "bookmark", services=services)
    return await engagement.set_bookmark(services=services, user=user, clip_id=clip_id, bookmarked=False)


@router.get("/clips/{clip_id}/engagement", response_model=Engagement)
async def clip_engagement(clip_id: ClipId, viewer: OptionalUser, services: Deps) -> Engagement:
    """Counts (eventual, see docs/design/social.md) and your own flags (exact, right after your writes)."""
    viewer_id = viewer.id if viewer else None
    await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=viewer_id)
    found = await engagement.engagement_for(services=services, viewer_id=viewer_id, clip_ids=[clip_id])
    if clip_id not in found:  # deleted in between
        raise NotFound(f"no clip {clip_id}")
    return found[clip_id]


CLIP_IDS_PATTERN = rf"^{ID_DIGITS}(?:,{ID_DIGITS}){{0,{MAX_LIMIT - 1}}}$"


@router.get("/engagement", response_model=EngagementList)
async def many_engagement(viewer: OptionalUser, services: Deps,
                          clip_ids: Annotated[str, Query(description="comma-separated clip IDs, at most 100",
                                                         pattern=CLIP_IDS_PATTERN)]
                          ) -> EngagementList:
    """Engagement of several clips (a feed page); clips you cannot see are left out."""
    try:
        wanted = [parse_id(part.strip()) for part in clip_ids.split(",") if part.strip()]
    except ValueError as exc:
        raise Invalid("clip_ids: comma-separated numeric IDs") from exc
    if not 1 <= len(wanted) <= MAX_LIMIT:
        raise Invalid(f"clip_ids: 1 to {MAX_LIMIT} IDs")
    return EngagementList(items=await engagement.visible_engagement(
        services=services, viewer_id=viewer.id if viewer else None, clip_ids=wanted))


@router.get("/me/likes", response_model=SavedClipPage, dependencies=[StaleReadsOk])
async def my_likes(user: CurrentUser, services: Deps, cursor: str | None = None,
                   limit: Limit = DEFAULT_LIMIT) -> SavedClipPage:
    return await engagement.saved_clips(services=services, user=user, kind="likes", cursor=cursor, limit=limit)


@router.get("/me/bookmarks", response_model=SavedClipPage, dependencies=[StaleReadsOk])
async def my_bookmarks(user: CurrentUser, services: Deps, cursor: str | None = None,
                       limit: Limit = DEFAULT_LIMIT) -> SavedClipPage:
    return await engagement.saved_clips(services=services, user=user, kind="bookmarks", cursor=cursor, limit=limit)


@router.post("/clips/{clip_id}/shares", status_code=status.HTTP_201_CREATED, response_model=SharePublic)
async def share(clip_id: ClipId, body: ShareCreate, user: CurrentUser, services: Deps) -> SharePublic:
    """Record a share: ``channel=link`` (or an app) when the link left the app, ``channel=user``
    with ``to_user`` to send it to someone in the app (they get a notification)."""
    await hit_write(user, "share", services=services)
    return await shares.share(services=services, user=user, clip_id=clip_id, request=body)
