"""Feed routes: ``GET /v1/feed`` (For You and Following) and onboarding interests."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from clipfeed.core.errors import Unauthorized, Unavailable
from clipfeed.http.deps import ClientIp, CurrentUser, Deps, OptionalUser
from clipfeed.recs import fallback, feed, render, viewers
from clipfeed.recs.experiments import assignments
from clipfeed.recs.models import FeedPage, FeedTab, InterestsPublic, InterestsUpdate
from clipfeed.recs.signals import SIGNALS

router = APIRouter(prefix="/v1", tags=["feed"])
DEVICE_COOKIE = "cf_device"
ANONYMOUS_PAGES_PER_MINUTE = 120  # per device
ANONYMOUS_PAGES_PER_MINUTE_PER_ADDRESS = 1200  # many devices share an address behind NAT


@router.get("/feed", response_model=FeedPage)
async def get_feed(request: Request, response: Response, services: Deps, viewer: OptionalUser, ip: ClientIp,
                   tab: FeedTab = FeedTab.foryou, cursor: str | None = None,
                   limit: Annotated[int | None, Query(ge=1, le=50)] = None,
                   device_id: Annotated[str | None, Header(alias="X-Device-ID", max_length=128)] = None,
                   network: Annotated[str | None, Header(alias="X-Network-Type", max_length=20)] = None,
                   device: Annotated[str | None, Header(alias="X-Device-Type", max_length=20)] = None,
                   include: Annotated[str | None, Query(pattern="^engagement$", description=(
                       "engagement: each item carries its counts and your own flags (one call for a "
                       "screen; costs the page a few reads)"))] = None) -> FeedPage:
    """A page of the For You feed (ranked, never repeating a clip already served to this viewer)
    the Following feed (followed creators, newest first) or the Hashtags feed (followed hashtags,
    newest first); each leaves out the viewer's muted words and hashtags. Anonymous viewers are recognised
    by ``X-Device-ID`` or, in browsers, a ``cf_device`` cookie set on the first request."""
    settings = services.settings
    context = {"device": (device or "unknown").lower(), "network": network}
    if viewer is not None:
        who = viewers.FeedViewer.signed_in(viewer.id, region=viewer.region or settings.region,
                                           language=viewer.language, **context)
    else:
        if tab != FeedTab.foryou:
            raise Unauthorized(f"the {tab.value} tab needs a signed-in viewer",
                               headers={"WWW-Authenticate": 'Bearer realm="clipfeed"'})
        await services.limiter.hit("feed-anonymous-address", ip, limit=ANONYMOUS_PAGES_PER_MINUTE_PER_ADDRESS,
                                   per_seconds=60)
        device_key = device_id or request.cookies.get(DEVICE_COOKIE)
        if not device_key:
            device_key = secrets.token_urlsafe(18)
            response.set_cookie(DEVICE_COOKIE, device_key, max_age=365 * 86400, httponly=True, samesite="lax")
        who = viewers.FeedViewer.anonymous(device_key, region=settings.region, **context)
        await services.limiter.hit("feed-anonymous", who.key, limit=ANONYMOUS_PAGES_PER_MINUTE, per_seconds=60)
    size = limit or settings.feed_page_size
    if tab == FeedTab.following:
        page = await feed.following_page(who, cursor=cursor, limit=size, services=services)
    elif tab == FeedTab.hashtags:
        page = await feed.hashtags_page(who, cursor=cursor, limit=size, services=services)
    else:
        try:
            page = await feed.foryou_page(who, cursor=cursor, limit=size, services=services)
        except Unavailable:  # the cache is down (its breaker open): the newest clips from the database
            page = await fallback.newest_page(who, cursor=cursor, limit=size, services=services)
    items = await render.feed_items(who, page, services=services)
    if include == "engagement" and items and page.path != fallback.PATH:
        found = await SIGNALS.engagement(who.user_id, [int(item.clip.id) for item in items], services=services)
        items = [item.model_copy(update={"engagement": found.get(int(item.clip.id))}) for item in items]
    return FeedPage(items=items, next_cursor=page.next_cursor, served_by=page.path, model=page.model,
                    experiment=assignments(settings, who.key))


@router.get("/feed/interests", response_model=InterestsPublic)
async def get_interests(user: CurrentUser, services: Deps) -> InterestsPublic:
    return InterestsPublic(hashtags=await viewers.get_interests(user.id, services=services))


@router.put("/feed/interests", response_model=InterestsPublic)
async def put_interests(body: InterestsUpdate, user: CurrentUser, services: Deps) -> InterestsPublic:
    """Onboarding: the hashtags a viewer cares about (a cold-start source until they have
    history). Replaces the previous list; the next page uses it."""
    hashtags = await viewers.set_interests(user.id, body.hashtags, services=services)
    await feed.refill(viewers.FeedViewer.signed_in(user.id, region=user.region or services.settings.region,
                                                             language=user.language), reason="interests",
                      replace=True, services=services)
    return InterestsPublic(hashtags=hashtags)
