"""``GET /v1/creators/me/analytics``, ``…/analytics/clips/{clip_id}`` and the studio's ``…/clips``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from clipfeed.analytics import service, studio
from clipfeed.analytics.models import Analytics
from clipfeed.analytics.studio import StudioClipPage
from clipfeed.clips import service as clips_service
from clipfeed.core.errors import Forbidden, Invalid
from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.http.params import ClipId, Day

router = APIRouter(prefix="/v1", tags=["analytics"])
MAX_DAYS = 366
DEFAULT_DAYS = 28
_RANGE_RULE = (f"`from` must not be after `to`, and the period is at most {MAX_DAYS} days long (both ends "
               "included); otherwise the answer is a 422 problem")
From = Annotated[Day, Query(alias="from", description=(
    f"first UTC day, `YYYY-MM-DD` (default: {DEFAULT_DAYS - 1} days before `to`). {_RANGE_RULE}."))]
To = Annotated[Day, Query(alias="to", description=(
    f"last UTC day, inclusive, `YYYY-MM-DD` (default: today, or {DEFAULT_DAYS - 1} days after `from` when "
    f"only `from` is given). {_RANGE_RULE}."))]


def _shifted(day: date, days: int) -> date:
    """``day`` moved by ``days``, held inside the calendar (years 1 to 9999)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _period(first: date | None, last: date | None) -> tuple[date, date]:
    """The days asked for: a default period of 28 days ends today, or starts or ends on the
    one day given; two days given must be in order and at most ``MAX_DAYS`` apart."""
    if last is None:
        last = _shifted(first, DEFAULT_DAYS - 1) if first is not None else datetime.now(UTC).date()
    if first is None:
        first = _shifted(last, 1 - DEFAULT_DAYS)
    if first > last:
        raise Invalid(f"from ({first}) is after to ({last})")
    if (last - first).days >= MAX_DAYS:
        raise Invalid(f"from {first} to {last} is {(last - first).days + 1} days; at most {MAX_DAYS} at a time")
    return first, last


@router.get("/creators/me/analytics", response_model=Analytics, response_model_by_alias=True)
async def my_analytics(user: CurrentUser, services: Deps, first: From = None, last: To = None) -> Analytics:
    """Views, watch time, traffic sources, regions and follower growth of the signed-in
    creator's clips, per UTC day, as of the last batch run (every few minutes)."""
    first, last = _period(first, last)
    return await service.analytics(db=services.db, creator_id=user.id, from_day=first, to_day=last)


@router.get("/creators/me/analytics/clips/{clip_id}", response_model=Analytics, response_model_by_alias=True)
async def my_clip_analytics(clip_id: ClipId, user: CurrentUser, services: Deps,
                            first: From = None, last: To = None) -> Analytics:
    """One of the creator's clips, with its retention curve (share of plays still watching
    at each second)."""
    first, last = _period(first, last)
    clip = await clips_service.get(db=services.db, clip_id=clip_id, viewer_id=user.id)  # 404 if not visible
    if clip.owner_id != user.id:
        raise Forbidden("only the creator sees a clip's analytics")
    return await service.analytics(db=services.db, creator_id=user.id, from_day=first, to_day=last, clip_id=clip_id)


@router.get("/creators/me/clips", response_model=StudioClipPage)
async def my_clips(user: CurrentUser, services: Deps, cursor: str | None = None,
                   limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> StudioClipPage:
    """The creator studio's list: the signed-in creator's clips in every state (with the
    reason of a hold or rejection and the quality flags), views, likes and average watch time."""
    return await studio.my_clips(services=services, creator=user, cursor=cursor, limit=limit)
