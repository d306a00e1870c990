"""Routes: explicit negative feedback on For You ("not interested", hide a creator). Signed-in
viewers only: dismissals are kept with the account for 30 days (``clipfeed.recs.dismissals``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clipfeed.accounts.models import User
from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.http.idempotency import IdempotentRoute
from clipfeed.http.params import ClipId, UserRef
from clipfeed.recs import dismissals, dismissals_lists
from clipfeed.recs.dismissals_models import HiddenCreatorPage, NotInterestedPage
from clipfeed.recs.models import HiddenCreatorState, NotInterestedState
from clipfeed.runtime.services import Services
from clipfeed.social import access

router = APIRouter(prefix="/v1", tags=["feed"], route_class=IdempotentRoute)
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


async def _hit(user: User, *, services: Services) -> None:
    """As many a minute as likes or follows (``social_write_rate_per_minute``)."""
    await services.limiter.hit("feed.dismiss", str(user.id), limit=services.settings.social_write_rate_per_minute,
                               per_seconds=60)


@router.put("/clips/{clip_id}/not-interested", response_model=NotInterestedState)
async def not_interested(clip_id: ClipId, user: CurrentUser, services: Deps) -> NotInterestedState:
    """"Not interested": For You leaves this clip out for 30 days and shows less like it (its
    hashtags, its creator) from the next page on. Idempotent; sending it again restarts the 30
    days. 404 for a clip you cannot see."""
    await _hit(user, services=services)
    return await dismissals.not_interested(services=services, user=user, clip_id=clip_id)


@router.delete("/clips/{clip_id}/not-interested", response_model=NotInterestedState)
async def take_back_not_interested(clip_id: ClipId, user: CurrentUser, services: Deps) -> NotInterestedState:
    """Undo "not interested": the clip may come back in For You from the next page on, and
    what it did to the next pages' ranking is taken back. Idempotent. 404 for a clip you
    cannot see."""
    await _hit(user, services=services)
    return await dismissals.take_back_not_interested(services=services, user=user, clip_id=clip_id)


@router.get("/me/not-interested", response_model=NotInterestedPage)
async def my_not_interested(user: CurrentUser, services: Deps, cursor: str | None = None,
                            limit: Limit = DEFAULT_LIMIT) -> NotInterestedPage:
    """The clips you said you are not interested in, most recent first, each with the time
    For You may show it again (clips you can no longer see are left out)."""
    return await dismissals_lists.not_interested_clips(services=services, user=user, cursor=cursor, limit=limit)


@router.get("/me/hidden-creators", response_model=HiddenCreatorPage)
async def my_hidden_creators(user: CurrentUser, services: Deps, cursor: str | None = None,
                             limit: Limit = DEFAULT_LIMIT) -> HiddenCreatorPage:
    """The creators you hid from For You, most recently hidden first, each with the time
    their clips may come back."""
    return await dismissals_lists.hidden_creators(services=services, user=user, cursor=cursor, limit=limit)


@router.put("/users/{user_ref}/hide", response_model=HiddenCreatorState)
async def hide_creator(user_ref: UserRef, user: CurrentUser, services: Deps) -> HiddenCreatorState:
    """Hide this creator from For You for 30 days, from the next page on (their profile, the
    Following tab and search still show them). Idempotent."""
    await _hit(user, services=services)
    creator = await access.resolve_user(db=services.db, ref=user_ref)
    return await dismissals.hide_creator(services=services, user=user, creator=creator)


@router.delete("/users/{user_ref}/hide", response_model=HiddenCreatorState)
async def unhide_creator(user_ref: UserRef, user: CurrentUser, services: Deps) -> HiddenCreatorState:
    """Show this creator in For You again (idempotent)."""
    await _hit(user, services=services)
    creator = await access.resolve_user(db=services.db, ref=user_ref)
    return await dismissals.unhide_creator(services=services, user=user, creator=creator)
