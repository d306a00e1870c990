"""Likes and bookmarks (idempotent PUT/DELETE), the viewer's own flags, and counts.

Consistency: the viewer's own state (``liked_by_me``, ``bookmarked_by_me``, "my likes") is read
from the rows the write just committed, so it is exact at once (read-your-writes). Counts come
from the stream counters (``clipfeed.stream.counters``) and trail the writes by the pipeline's
lag (docs/design/social.md, "Consistency and staleness"). A write's response carries an estimate: the counter adjusted
by what this very write changed.

A like is one transaction on the user's shard: the row (unique per user and clip, so 50
concurrent PUTs make one) and, only when the row was really created or deleted, the
``like.added``/``like.removed`` event. Killed half-way, neither exists; the client repeats.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips import service as clips
from clipfeed.core import contract
from clipfeed.core.errors import Unavailable
from clipfeed.core.pagination import decode_cursor
from clipfeed.infra.db import utcnow
from clipfeed.social import access, comment_settings, events, graph
from clipfeed.social.models import Bookmark, Like
from clipfeed.social.paging import cursor_int, keyset_page
from clipfeed.social.schemas import BookmarkState, Counts, Engagement, LikeState, SavedClipPage
from clipfeed.stream.counters import get_clip_counts

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


async def clip_counts(*, services: Services, clip_ids: list[int]) -> dict[int, Counts]:
    raw = await get_clip_counts(services=services, clip_ids=clip_ids)
    return {cid: Counts(likes=c.likes, comments=c.comments, shares=c.shares, bookmarks=c.bookmarks, views=c.views)
            for cid, c in raw.items()}


async def _toggle(user: User, clip_id: int, table: Any, on: bool, noun: str, *, services: Services) -> tuple[bool, int]:
    """Create or delete the viewer's row; returns (changed, counter estimate)."""
    clip = await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=user.id)
    async with services.db.shard_session(user.id) as session:
        if on:
            changed = await graph.insert_ignore(session, table, {
                "user_id": user.id, "clip_id": clip.id, "id": services.ids.next_id(), "created_at": utcnow()})
        else:
            result = await session.execute(sa.delete(table).where(table.user_id == user.id, table.clip_id == clip.id))
            changed = bool(getattr(result, "rowcount", 0))
        if changed:
            events.record(session, contract.ENGAGEMENT[noun, on], key=clip.id, actor_id=user.id,
                          payload=contract.ClipEngagement(user_id=user.id, clip_id=clip.id, creator_id=clip.owner_id),
                          shard_key=user.id,
                          services=services)
    try:
        counted = (await clip_counts(services=services, clip_ids=[clip.id]))[clip.id]
        current = counted.likes if noun == "like" else counted.bookmarks
    except Unavailable:  # the counters' cache is down: the write is done, the estimate is rougher
        current = 0
    # The event of this write is most likely not counted yet: show it already. And a clip the
    # viewer likes has at least that like, however far behind the counter is.
    estimate = max(0, current + ((1 if on else -1) if changed else 0))
    return changed, max(estimate, 1) if on else estimate


async def set_like(*, services: Services, user: User, clip_id: int, liked: bool) -> LikeState:
    changed, estimate = await _toggle(user, clip_id, Like, liked, "like", services=services)
    if changed and liked:
        await _feed_sees_like(user.id, clip_id, services=services)
    return LikeState(clip_id=str(clip_id), liked=liked, like_count_estimate=estimate)


async def _feed_sees_like(user_id: int, clip_id: int, *, services: Services) -> None:
    """The viewer's next For You page is re-ranked with this like, before the event reaches the
    recommender's worker. Imported here: recs builds on social, not the reverse. Killed before
    this runs, the like is committed and the worker's fold brings it to the feed seconds later."""
    from clipfeed.core.viewers import ViewerId
    from clipfeed.recs import session as session_signals

    await session_signals.note(ViewerId.signed_in(user_id).key,
                               [session_signals.Signal(clip_id, "like", time.time())], cache=services.cache)


async def set_bookmark(*, services: Services, user: User, clip_id: int, bookmarked: bool) -> BookmarkState:
    _, estimate = await _toggle(user, clip_id, Bookmark, bookmarked, "bookmark", services=services)
    return BookmarkState(clip_id=str(clip_id), bookmarked=bookmarked, bookmark_count_estimate=estimate)


async def _own_flags(table: Any, user_id: int, clip_ids: list[int], *, services: Services) -> set[int]:
    async with services.db.shard_session(user_id) as session:
        return set((await session.scalars(sa.select(table.clip_id).where(
            table.user_id == user_id, table.clip_id.in_(set(clip_ids))))).all())


async def engagement_for(*, services: Services, viewer_id: int | None, clip_ids: list[int]) -> dict[int, Engagement]:
    """Counts plus the viewer's own flags per clip, for clip views and feeds. The caller has
    already decided the viewer may see these clips (``access.visible_clip`` or a feed's rules)."""
    found = await clips.get_many(db=services.db, clip_ids=clip_ids)
    wanted = [c for c in dict.fromkeys(clip_ids) if c in found]
    if not wanted:
        return {}
    counts = await clip_counts(services=services, clip_ids=wanted)
    liked: set[int] = set()
    bookmarked: set[int] = set()
    following: set[int] = set()
    if viewer_id is not None:
        liked = await _own_flags(Like, viewer_id, wanted, services=services)
        bookmarked = await _own_flags(Bookmark, viewer_id, wanted, services=services)
        async with services.db.session() as session:
            following = await graph.following_among(session, viewer_id, [found[c].owner_id for c in wanted])
    settings = await comment_settings.for_clips(db=services.db, clip_ids=wanted)
    out = {}
    for clip_id in wanted:
        setting = settings[clip_id]
        owner = found[clip_id].owner_id
        out[clip_id] = Engagement(
            clip_id=str(clip_id), counts=counts[clip_id], liked_by_me=clip_id in liked,
            bookmarked_by_me=clip_id in bookmarked, comments_setting=setting.comments,
            can_comment=viewer_id is not None and comment_settings.may_comment(
                setting.comments, is_owner=viewer_id == owner, follows_owner=owner in following),
            pinned_comment_id=None if setting.pinned_comment_id is None else str(setting.pinned_comment_id))
    return out


async def visible_engagement(*, services: Services, viewer_id: int | None, clip_ids: list[int]) -> list[Engagement]:
    """``engagement_for`` limited to the clips the viewer may see (others are left out)."""
    found = await access.visible_clips(db=services.db, clip_ids=clip_ids, viewer_id=viewer_id)
    visible = [c for c in dict.fromkeys(clip_ids) if c in found]
    by_id = await engagement_for(services=services, viewer_id=viewer_id, clip_ids=visible)
    return [by_id[c] for c in visible if c in by_id]


async def saved_clips(*, services: Services, user: User, kind: str, cursor: str | None, limit: int) -> SavedClipPage:
    """The user's liked (``kind="likes"``) or bookmarked clips, most recent first; clips that
    went private, were deleted or whose creator is blocked are left out."""
    table: Any = Like if kind == "likes" else Bookmark
    position = decode_cursor(cursor)
    query = sa.select(table.id, table.clip_id).where(table.user_id == user.id)
    if "before" in position:
        query = query.where(table.id < cursor_int(position, "before"))
    async with services.db.shard_read(user.id) as session:
        rows = (await session.execute(query.order_by(table.id.desc()).limit(limit + 1))).all()
    rows, next_cursor = keyset_page(rows, limit, lambda r: {"before": str(r[0])})
    found = await access.visible_clips(db=services.db, clip_ids=[r[1] for r in rows], viewer_id=user.id)
    shown = [found[c] for _, c in rows if c in found]
    owners = await accounts.get_many(db=services.db, user_ids=[c.owner_id for c in shown])
    items = [clips.public_view(c, owner_handle=owners[c.owner_id].handle if c.owner_id in owners else None)
             for c in shown]
    return SavedClipPage(items=items, next_cursor=next_cursor)
