"""Reading the inbox: pages, unread count, mark read (one or all), preferences, and the
on-read half of the hybrid fan-out.

Hybrid fan-out of "a creator you follow posted": for a creator with at most
``CLIPFEED_NOTIFICATIONS_FANOUT_THRESHOLD`` followers the worker writes one row per follower
when the clip is ready (fan-out on write). Above it, the worker writes one
``creator_announcements`` row; each follower's next inbox read or unread count merges the
announcements of the big creators they follow (``pull_on_read``) into their own inbox, once,
remembering how far it got (``notification_pull_marks``). The cost moves from the post (one
row per follower, most of whom will not look today) to the reads of those who do look.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import orjson
import sqlalchemy as sa

from clipfeed.accounts.models import User
from clipfeed.core.errors import NotFound
from clipfeed.core.ids import min_id_at
from clipfeed.core.pagination import decode_cursor, encode_cursor
from clipfeed.core.singleflight import SingleFlight
from clipfeed.infra.db import insert_for, insert_ignore, utcnow
from clipfeed.notifications import inbox, render
from clipfeed.notifications.models import (
    CreatorAnnouncement,
    Notification,
    NotificationKind,
    NotificationMute,
    NotificationPage,
    Preferences,
    PullMark,
    ReadState,
)
from clipfeed.social import service as social
from clipfeed.social.paging import cursor_int

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

PULL_BATCH = 500
SETTLE = timedelta(seconds=10)
BIG_TTL_S = 60.0


async def announce_clip(*, services: Services, creator_id: int, clip_id: int,
                        posted_at: datetime | None = None) -> None:
    """Record a big creator's new clip once (fan-out on read); idempotent per clip."""
    async with services.db.session() as session:
        await insert_ignore(session, CreatorAnnouncement, {"id": services.ids.next_id(), "creator_id": creator_id,
                                                           "clip_id": clip_id, "created_at": posted_at or utcnow()})


async def pull_on_read(*, services: Services, user_id: int) -> int:
    """Merge new announcements of followed big creators into the inbox; returns rows added.
    Costs one query for a user who follows no big creator, three when nothing is new."""
    settings = services.settings
    big = await _big_followees(user_id, services=services)
    if not big:
        return 0
    async with services.db.shard_session(user_id) as session:
        mark = await session.get(PullMark, user_id)
    after = max(mark.pulled_through if mark else 0,
                min_id_at(utcnow() - timedelta(days=settings.notifications_pull_days)))
    added = 0
    while True:
        async with services.db.session() as session:
            found = list((await session.scalars(sa.select(CreatorAnnouncement).where(
                CreatorAnnouncement.creator_id.in_(list(big)), CreatorAnnouncement.id > after)
                .order_by(CreatorAnnouncement.id).limit(PULL_BATCH))).all())
        if not found or (not added and await inbox.muted(services=services, user_ids=[user_id],
                                                           kind=NotificationKind.new_clip.value)):
            return added
        now = utcnow()
        rows = [{"id": nid, "recipient_id": user_id, "kind": NotificationKind.new_clip.value,
                 "group_key": f"new_clip:{item.clip_id}", "sort_id": item.id, "actor_ids": [str(item.creator_id)],
                 "actor_count": 1, "clip_id": item.clip_id, "comment_id": None, "data": {"on_read": True},
                 "created_at": now, "updated_at": now, "read_at": None}
                for nid, item in zip(services.ids.next_ids(len(found)), found, strict=True)
                if item.created_at >= big[item.creator_id]]  # not what was posted before the follow
        async with services.db.shard_session(user_id) as session:
            if rows:
                stmt = insert_for(session, Notification).on_conflict_do_nothing().returning(Notification.id)
                added += len((await session.scalars(stmt, rows)).all())
            # Announcements written by several workers may commit slightly out of ID order:
            # the mark stays SETTLE behind now, and what is read again is skipped (group_key).
            settled = [item.id for item in found if item.id < min_id_at(now - SETTLE)]
            if settled:
                stmt = insert_for(session, PullMark).values(user_id=user_id, pulled_through=settled[-1])
                await session.execute(stmt.on_conflict_do_update(index_elements=["user_id"],
                                                                 set_={"pulled_through": settled[-1]}))
        after = found[-1].id
        if len(found) < PULL_BATCH:
            return added


_BIG_FOLLOWEES: SingleFlight[tuple[int, int], dict[int, datetime]] = SingleFlight()


async def _big_followees(user_id: int, *, services: Services) -> dict[int, datetime]:
    """The big creators ``user_id`` follows (and since when), cached for ``BIG_TTL_S``: a new
    follow of a big creator, or a creator crossing the threshold, is merged that much later.
    A miss is read once per process however many of the user's requests ask at that moment."""
    cached = await services.cache.get(f"nf:big:{user_id}")
    if cached is not None:
        return {int(uid): datetime.fromisoformat(since) for uid, since in orjson.loads(cached).items()}
    return await _BIG_FOLLOWEES.run((id(services), user_id),
                                    lambda: _read_big_followees(user_id, services=services))


async def _read_big_followees(user_id: int, *, services: Services) -> dict[int, datetime]:
    big = await social.followees_above(db=services.db, user_id=user_id,
                                       min_followers=services.settings.notifications_fanout_threshold)
    await services.cache.set(f"nf:big:{user_id}", orjson.dumps({str(uid): since.isoformat()
                                                                for uid, since in big.items()}), ttl=BIG_TTL_S)
    return big


async def unread_count(*, services: Services, user_id: int) -> int:
    async with services.db.shard_session(user_id) as session:
        return int(await session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
            Notification.recipient_id == user_id, Notification.read_at.is_(None))) or 0)


async def page(*, services: Services, user: User, cursor: str | None, limit: int,
               unread_only: bool = False) -> NotificationPage:
    """Newest activity first; an aggregate that grows moves back to the top."""
    await pull_on_read(services=services, user_id=user.id)
    position = decode_cursor(cursor)
    query = sa.select(Notification).where(Notification.recipient_id == user.id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if "before" in position:
        query = query.where(Notification.sort_id < cursor_int(position, "before"))
    async with services.db.shard_session(user.id) as session:
        rows = list((await session.scalars(query.order_by(Notification.sort_id.desc()).limit(limit + 1))).all())
    more = len(rows) > limit
    rows = rows[:limit]
    hidden = await social.blocked_user_ids(db=services.db, user_id=user.id)
    items = await render.views(services=services, rows=rows, hidden=hidden)
    return NotificationPage(items=items, unread_count=await unread_count(services=services, user_id=user.id),
                            next_cursor=encode_cursor({"before": str(rows[-1].sort_id)}) if more and rows else None)


async def mark_read(*, services: Services, user: User, notification_id: int) -> ReadState:
    async with services.db.shard_session(user.id) as session:
        row = await session.scalar(sa.select(Notification).where(
            Notification.id == notification_id, Notification.recipient_id == user.id))
        if row is None:  # someone else's notification is as absent as a missing one
            raise NotFound(f"no notification {notification_id}")
        if row.read_at is None:
            row.read_at = utcnow()
    return ReadState(id=str(notification_id), unread_count=await unread_count(services=services, user_id=user.id))


async def mark_all_read(*, services: Services, user: User) -> ReadState:
    async with services.db.shard_session(user.id) as session:
        await session.execute(sa.update(Notification).where(
            Notification.recipient_id == user.id, Notification.read_at.is_(None)).values(read_at=utcnow()))
    return ReadState(unread_count=await unread_count(services=services, user_id=user.id))


async def preferences(*, services: Services, user_id: int) -> Preferences:
    async with services.db.session() as session:
        muted = set((await session.scalars(sa.select(NotificationMute.kind).where(
            NotificationMute.user_id == user_id))).all())
    return Preferences(kinds={kind: kind.value not in muted for kind in NotificationKind})


async def update_preferences(*, services: Services, user_id: int, kinds: dict[NotificationKind, bool]) -> Preferences:
    """Only the kinds given change. Takes effect for notifications written from now on."""
    async with services.db.session() as session:
        for kind, enabled in kinds.items():
            if enabled:
                await session.execute(sa.delete(NotificationMute).where(
                    NotificationMute.user_id == user_id, NotificationMute.kind == kind.value))
            else:
                await insert_ignore(session, NotificationMute, {"user_id": user_id, "kind": kind.value})
    return await preferences(services=services, user_id=user_id)
