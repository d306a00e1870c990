"""Reading comments: top-level lists (top or new, the pinned one first), replies, views.

What a viewer sees: visible comments of a clip they may see, minus those of users they block
or who block them; their own held comments too (marked ``held``); those matching the viewer's
mute filters come marked ``filtered`` (the app folds them away). Cursors carry the last
row's sort key; like counts move between pages, so a "top" list may repeat or skip a comment
whose count changed while the client paged (the usual trade of keyset paging).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips.models import hashtags_in
from clipfeed.core.errors import NotFound
from clipfeed.core.pagination import decode_cursor, encode_cursor
from clipfeed.infra.db import Database, not_among
from clipfeed.search import mutes
from clipfeed.social import access, comment_settings
from clipfeed.social.models import Comment, CommentLike, CommentStatus
from clipfeed.social.paging import cursor_int, keyset_page
from clipfeed.social.schemas import CommentAuthor, CommentPage, CommentPublic

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


class CommentSort(StrEnum):
    top = "top"
    new = "new"


def shown_to(viewer_id: int | None) -> sa.ColumnElement[bool]:
    visible = Comment.status == CommentStatus.visible.value
    if viewer_id is None:
        return visible
    return sa.or_(visible, sa.and_(Comment.status == CommentStatus.held.value, Comment.author_id == viewer_id))


async def find(*, db: Database, comment_id: int) -> Comment | None:
    """A comment by ID alone, looking in every shard database (reports and moderation only:
    the API's paths name the clip, which names the shard)."""
    for index in range(db.shard_count):
        async with db.shard_session_at(index) as session:
            comment = await session.get(Comment, comment_id)
        if comment is not None:
            return comment
    return None


async def get_visible(*, services: Services, viewer_id: int | None, clip_id: int, comment_id: int) -> Comment:
    """A comment the viewer may see, on a clip they may see; 404 otherwise."""
    await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=viewer_id)
    async with services.db.shard_read(clip_id) as session:
        comment = await session.scalar(sa.select(Comment).where(
            Comment.id == comment_id, Comment.clip_id == clip_id, shown_to(viewer_id)))
    if comment is None or (viewer_id is not None and await access.is_blocked(
            db=services.db, a=viewer_id, b=comment.author_id)):
        raise NotFound(f"no comment {comment_id}")
    return comment


async def hidden_authors(viewer_id: int | None, *,
                         services: Services) -> Callable[[AsyncSession], sa.ColumnElement[bool]]:
    """The filter leaving out comments whose authors are hidden from the viewer (blocks either
    way, by name or by server), made for a session on the clip's shard: ``NOT IN`` a subquery of
    the blocks where the shard is the main database; else the IDs read there, bound as one value
    (``not_among``). Either way a statement's size does not grow with a blocked server's size."""
    if viewer_id is None:
        return lambda _session: sa.true()
    if not services.db.shard_urls:
        return lambda _session: Comment.author_id.not_in(access.hidden_from(viewer_id))
    hidden = await access.blocked_user_ids(db=services.db, user_id=viewer_id)
    return lambda session: not_among(session, Comment.author_id, hidden) if hidden else sa.true()


async def list_comments(*, services: Services, viewer_id: int | None, clip_id: int, sort: CommentSort,
                        cursor: str | None, limit: int) -> CommentPage:
    await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=viewer_id)
    unhidden = await hidden_authors(viewer_id, services=services)
    pinned_id = (await comment_settings.for_clip(db=services.db, clip_id=clip_id)).pinned_comment_id
    position = decode_cursor(cursor)
    query = sa.select(Comment).where(Comment.clip_id == clip_id, Comment.parent_id.is_(None), shown_to(viewer_id))
    if pinned_id is not None:
        query = query.where(Comment.id != pinned_id)
    top = sort == CommentSort.top
    if "before" in position:
        before = cursor_int(position, "before")
        query = query.where(sa.or_(Comment.like_count < cursor_int(position, "likes"), sa.and_(
            Comment.like_count == cursor_int(position, "likes"), Comment.id < before)) if top else Comment.id < before)
    query = query.order_by(Comment.like_count.desc(), Comment.id.desc()) if top else query.order_by(Comment.id.desc())
    # The authors hidden from the viewer are filtered in this read: it decides who is seen.
    async with services.db.shard_read(clip_id, access=viewer_id is not None) as session:
        pinned = None
        if pinned_id is not None and not position:  # the first page leads with the pinned comment
            pinned = await session.scalar(sa.select(Comment).where(
                Comment.id == pinned_id, Comment.clip_id == clip_id, Comment.parent_id.is_(None),
                Comment.status == CommentStatus.visible.value, unhidden(session)))
        room = limit - (pinned is not None)
        rows = list((await session.scalars(query.where(unhidden(session)).limit(room + 1))).all()) if room else []
    if room:
        rows, next_cursor = keyset_page(rows, room, lambda c: {"before": str(c.id), "likes": c.like_count})
    else:  # limit=1 and a pin: the next page starts at the top, the pin left out
        next_cursor = encode_cursor({"before": str(2**63 - 1), "likes": 2**62})
    shown = ([pinned] if pinned is not None else []) + rows
    return CommentPage(items=await views(services=services, viewer_id=viewer_id, comments=shown, pinned_id=pinned_id),
                       next_cursor=next_cursor)


async def list_replies(*, services: Services, viewer_id: int | None, clip_id: int, comment_id: int,
                       cursor: str | None, limit: int) -> CommentPage:
    """Replies of a top-level comment, oldest first (a thread reads top-down)."""
    parent = await get_visible(services=services, viewer_id=viewer_id, clip_id=clip_id, comment_id=comment_id)
    unhidden = await hidden_authors(viewer_id, services=services)
    position = decode_cursor(cursor)
    query = sa.select(Comment).where(Comment.clip_id == clip_id, Comment.parent_id == parent.id, shown_to(viewer_id))
    if "after" in position:
        query = query.where(Comment.id > cursor_int(position, "after"))
    async with services.db.shard_read(clip_id, access=viewer_id is not None) as session:
        rows = list((await session.scalars(query.where(unhidden(session)).order_by(Comment.id)
                                            .limit(limit + 1))).all())
    rows, next_cursor = keyset_page(rows, limit, lambda c: {"after": str(c.id)})
    return CommentPage(items=await views(services=services, viewer_id=viewer_id, comments=rows, pinned_id=None),
                       next_cursor=next_cursor)


async def views(*, services: Services, viewer_id: int | None, comments: list[Comment],
                pinned_id: int | None) -> list[CommentPublic]:
    """API views of comments of one clip; comments of deleted or suspended authors are left out."""
    if not comments:
        return []
    authors = await access.active_users(db=services.db, user_ids=[c.author_id for c in comments])
    liked: set[int] = set()
    if viewer_id is not None:
        async with services.db.shard_read(comments[0].clip_id) as session:
            liked = set((await session.scalars(sa.select(CommentLike.comment_id).where(
                CommentLike.user_id == viewer_id, CommentLike.comment_id.in_([c.id for c in comments])))).all())
    muted = await mutes.of(db=services.db, user_id=viewer_id)
    out = []
    for comment in comments:
        author = authors.get(comment.author_id)
        if author is not None:
            shown = view(comment, author, viewer_id=viewer_id, liked=comment.id in liked,
                         pinned=comment.id == pinned_id,
                         services=services)
            if muted and comment.author_id != viewer_id and muted.hides_text(comment.body, hashtags_in(comment.body)):
                shown.filtered = True
            out.append(shown)
    return out


def view(comment: Comment, author: User, *, services: Services, viewer_id: int | None, liked: bool,
         pinned: bool) -> CommentPublic:
    window = timedelta(seconds=services.settings.social_comment_edit_window_s)
    return CommentPublic(
        id=str(comment.id), clip_id=str(comment.clip_id),
        parent_id=None if comment.parent_id is None else str(comment.parent_id),
        author=CommentAuthor(id=str(author.id), handle=author.handle, display_name=author.display_name,
                             avatar_url=accounts.avatar_url(author, settings=services.settings)),
        body=comment.body, status=CommentStatus(comment.status), like_count=comment.like_count,
        reply_count=comment.reply_count, liked_by_me=liked, pinned=pinned,
        created_at=comment.created_at, edited_at=comment.edited_at,
        editable_until=comment.created_at + window if viewer_id == comment.author_id else None)


async def visible_bodies(*, db: Database, refs: list[tuple[int, int]]) -> dict[int, str]:
    """Texts of the visible comments among ``(clip_id, comment_id)`` pairs (notifications show
    an excerpt, and drop the notification once the comment is gone)."""
    by_shard: dict[int, set[int]] = {}
    for clip_id, comment_id in refs:
        by_shard.setdefault(db.shard_index(clip_id), set()).add(comment_id)
    out: dict[int, str] = {}
    for index, ids in by_shard.items():
        async with db.shard_session_at(index) as session:
            rows = await session.execute(sa.select(Comment.id, Comment.body).where(
                Comment.id.in_(ids), Comment.status == CommentStatus.visible.value))
            out.update({int(cid): body for cid, body in rows})
    return out
