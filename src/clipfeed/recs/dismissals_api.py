"""Routes: explicit negative feedback on For You ("not interested", hide a creator). Signed-in
viewers only: dismissals are kept with the account for 30 days (``clipfeed.recs.dismissals``)."""

from __future__ import annotations

from fastapi import APIRouter

from clipfeed.accounts.models import User
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.http.idempotency import IdempotentRoute
from clipfeed.http.params import ClipId, UserRef
from clipfeed.recs import dismissals
from clipfeed.recs.models import HiddenCreatorState, NotInterestedState
from clipfeed.runtime.services import Services
from clipfeed.social import access

router = APIRouter(prefix="/v1", tags=["feed"], route_class=IdempotentRoute)


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
