"""Routes: the inbox, unread count, mark read, preferences, and the live stream (SSE)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from clipfeed.core import contract
from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.http.idempotency import IdempotentRoute
from clipfeed.http.params import NotificationId
from clipfeed.notifications import service
from clipfeed.notifications.models import NotificationPage, Preferences, PreferencesUpdate, ReadState, UnreadCount

router = APIRouter(prefix="/v1", tags=["notifications"], route_class=IdempotentRoute)
WAKE_S = 1.0  # how often an idle stream checks that its client and the server are still there


@router.get("/notifications", response_model=NotificationPage)
async def inbox(user: CurrentUser, services: Deps, cursor: str | None = None,
                limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
                unread_only: bool = False) -> NotificationPage:
    return await service.page(services=services, user=user, cursor=cursor, limit=limit, unread_only=unread_only)


@router.get("/notifications/unread-count", response_model=UnreadCount)
async def unread(user: CurrentUser, services: Deps) -> UnreadCount:
    await service.pull_on_read(services=services, user_id=user.id)
    return UnreadCount(unread_count=await service.unread_count(services=services, user_id=user.id))


@router.post("/notifications/read-all", response_model=ReadState)
async def read_all(user: CurrentUser, services: Deps) -> ReadState:
    return await service.mark_all_read(services=services, user=user)


@router.post("/notifications/{notification_id}/read", response_model=ReadState)
async def read_one(notification_id: NotificationId, user: CurrentUser, services: Deps) -> ReadState:
    return await service.mark_read(services=services, user=user, notification_id=notification_id)


@router.get("/notifications/preferences", response_model=Preferences)
async def get_preferences(user: CurrentUser, services: Deps) -> Preferences:
    return await service.preferences(services=services, user_id=user.id)


@router.patch("/notifications/preferences", response_model=Preferences)
async def patch_preferences(body: PreferencesUpdate, user: CurrentUser, services: Deps) -> Preferences:
    """Turn kinds on (true) or off (false); kinds not named keep their setting."""
    return await service.update_preferences(services=services, user_id=user.id, kinds=body.kinds)


@router.get("/notifications/stream", response_class=EventSourceResponse)
async def stream(request: Request, user: CurrentUser, services: Deps) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events: ``ready`` (with the unread count) once connected, then a
    ``notification`` event (the notification as ``GET /v1/notifications`` shows it, plus
    ``unread_count``) for each new or grown notification, whichever API process you are on.
    Browsers' ``EventSource`` cannot send headers: pass ``?access_token=``. After a reconnect,
    read ``GET /v1/notifications`` for anything missed."""
    async with services.live.listen(contract.Topic.NOTIFICATIONS, str(user.id)) as queue:
        await service.pull_on_read(services=services, user_id=user.id)
        yield ServerSentEvent(event="ready", retry=3000,
                              data={"unread_count": await service.unread_count(services=services, user_id=user.id)})
        while not services.stopping.is_set() and not await request.is_disconnected():
            try:
                event = await asyncio.wait_for(queue.get(), WAKE_S)
            except TimeoutError:
                continue
            unread_count = await service.unread_count(services=services, user_id=user.id)
            changed = contract.parse(event)  # a notification.created or .updated
            yield ServerSentEvent(event="notification", id=str(event.id),
                                  data={**contract.EventType.dump(changed), "unread_count": unread_count,
                                        "update": event.type})
