"""Writing comments: create (with the text filter and mentions), edit within the window,
delete by the author or the clip's creator, likes on comments, pinning.

A comment and its event are one transaction on the clip's shard. ``comment.created`` is
published when a comment becomes visible (at once, or when a moderator approves a held one)
and ``comment.deleted`` when a visible one goes, so the stream's comment count follows what
people can read. A held comment's moderation case is opened *before* the comment is written:
killed in between, the case points at a comment that never existed and deciding it does
nothing, while the other order could leave a comment held with no case to release it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.core import contract
from clipfeed.core.errors import Forbidden, Invalid, NotFound
from clipfeed.infra.db import together, utcnow
from clipfeed.moderation import service as moderation
from clipfeed.moderation.models import CaseSource, SubjectKind
from clipfeed.moderation.text import TextVerdict, check_text
from clipfeed.social import access, comment_settings, events, graph
from clipfeed.social.comment_reads import get_visible, view, views
from clipfeed.social.models import Comment, CommentLike, CommentSetting, CommentStatus
from clipfeed.social.schemas import CommentCreate, CommentDeleted, CommentLikeState, CommentPublic, CommentUpdate

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_.]{3,30})")
MAX_MENTIONS = 10
_REASONS = {"spam:many-links": "too many links", "spam:many-mentions": "too many mentions",
            "spam:repeated-characters": "long runs of one character", "spam:shouting": "mostly capital letters"}


def _screen(body: str, *, services: Services) -> TextVerdict:
    verdict = check_text(body, settings=services.settings)
    if verdict.action == "reject":
        reasons = sorted({_REASONS.get(m, "language that is not allowed here") for m in verdict.matches})
        raise Invalid(f"the comment was not posted: {', '.join(reasons)}", reasons=reasons)
    return verdict


async def _hold(comment_id: int, author_id: int, verdict: TextVerdict, *, services: Services) -> None:
    await moderation.enqueue(db=services.db, outbox=services.outbox, ids=services.ids,
                             subject_kind=SubjectKind.comment.value, subject_id=comment_id,
                             source=CaseSource.auto.value, reason="comment text screening",
                             scores={"text": verdict.score}, subject_owner_id=author_id)


async def _mentions(body: str, author_id: int, *, services: Services) -> list[str]:
    handles = list(dict.fromkeys(h.lower().rstrip(".") for h in MENTION.findall(body)))[:MAX_MENTIONS]
    found = []
    for handle in handles:
        try:
            user = await accounts.get_by_handle(db=services.db, handle=handle)
        except NotFound:
            continue
        if user.id != author_id:
            found.append(str(user.id))
    return found


def created_event(session: AsyncSession, comment: Comment, creator_id: int, reply_to: int | None,
                   *, services: Services) -> None:
    events.record(session, contract.COMMENT_CREATED, key=comment.clip_id, actor_id=comment.author_id,
                  shard_key=comment.clip_id,
                  payload=contract.CommentCreated(
                      user_id=comment.author_id, clip_id=comment.clip_id, creator_id=creator_id,
                      comment_id=comment.id, parent_id=comment.parent_id, reply_to_user_id=reply_to,
                      mention_ids=[int(m) for m in comment.mention_ids or []]), services=services)


def deleted_event(session: AsyncSession, comment: Comment, creator_id: int, actor_id: int,
                   reason: str, *, services: Services) -> None:
    events.record(session, contract.COMMENT_DELETED, key=comment.clip_id, actor_id=actor_id, shard_key=comment.clip_id,
                  payload=contract.CommentDeleted(
                      user_id=actor_id, clip_id=comment.clip_id, creator_id=creator_id, comment_id=comment.id,
                      parent_id=comment.parent_id, author_id=comment.author_id, reason=reason), services=services)


async def create(*, services: Services, user: User, clip_id: int, request: CommentCreate) -> CommentPublic:
    clip, setting = await together(access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=user.id),
                                   comment_settings.for_clip(db=services.db, clip_id=clip_id))
    follows_owner = False
    if setting.comments == CommentSetting.followers and user.id != clip.owner_id:
        async with services.db.session() as session:
            follows_owner = bool(await graph.following_among(session, user.id, [clip.owner_id]))
    if not comment_settings.may_comment(setting.comments, is_owner=user.id == clip.owner_id,
                                        follows_owner=follows_owner):
        raise Forbidden("comments are turned off for this clip" if setting.comments == CommentSetting.off
                        else "only the creator's followers can comment on this clip")
    parent_id = reply_to = None
    if request.parent_id is not None:
        target = await get_visible(services=services, viewer_id=user.id, clip_id=clip.id,
                                   comment_id=int(request.parent_id))
        if target.status != CommentStatus.visible.value:
            raise NotFound(f"no comment {target.id}")
        parent_id, reply_to = target.parent_id or target.id, target.author_id
    verdict = _screen(request.body, services=services)
    held = verdict.action == "review"
    comment = Comment(id=services.ids.next_id(), clip_id=clip.id, author_id=user.id, parent_id=parent_id,
                      body=request.body, status=(CommentStatus.held if held else CommentStatus.visible).value,
                      like_count=0, reply_count=0, mention_ids=await _mentions(request.body, user.id,
                                                                               services=services),
                      created_at=utcnow())
    if held:
        await _hold(comment.id, user.id, verdict, services=services)
    async with services.db.shard_session(clip.id) as session:
        session.add(comment)
        if not held:
            if parent_id is not None:
                await bump_replies(session, parent_id, 1)
            created_event(session, comment, clip.owner_id, reply_to, services=services)
    return view(comment, user, viewer_id=user.id, liked=False, pinned=False, services=services)


async def bump_replies(session: AsyncSession, parent_id: int, delta: int) -> None:
    await session.execute(sa.update(Comment).where(Comment.id == parent_id)
                          .values(reply_count=Comment.reply_count + delta))


async def edit(*, services: Services, user: User, clip_id: int, comment_id: int,
               request: CommentUpdate) -> CommentPublic:
    comment = await get_visible(services=services, viewer_id=user.id, clip_id=clip_id, comment_id=comment_id)
    if comment.author_id != user.id:
        raise Forbidden("only the author can edit a comment")
    window = services.settings.social_comment_edit_window_s
    if utcnow() > comment.created_at + timedelta(seconds=window):
        raise Forbidden(f"comments can be edited for {window // 60} minutes after posting")
    verdict = _screen(request.body, services=services)
    if verdict.action == "review":
        await _hold(comment.id, user.id, verdict, services=services)
    clip = await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=user.id)
    async with services.db.shard_session(clip_id) as session:
        stored = await session.get(Comment, comment.id, with_for_update=True)
        if stored is None or stored.status not in (CommentStatus.visible.value, CommentStatus.held.value):
            raise NotFound(f"no comment {comment_id}")
        stored.body, stored.edited_at = request.body, utcnow()
        if verdict.action == "review" and stored.status == CommentStatus.visible.value:
            await take_down(session, stored, clip.owner_id, user.id, CommentStatus.held, "held", services=services)
    settings = await comment_settings.for_clip(db=services.db, clip_id=clip_id)
    return (await views(services=services, viewer_id=user.id, comments=[stored],
                        pinned_id=settings.pinned_comment_id))[0]


async def take_down(session: AsyncSession, comment: Comment, creator_id: int, actor_id: int,
                     status: CommentStatus, reason: str, *, services: Services) -> None:
    """Hide a comment (held, removed or deleted); a top-level comment's thread goes with it."""
    was_visible = comment.status == CommentStatus.visible.value
    comment.status = status.value
    if was_visible:
        deleted_event(session, comment, creator_id, actor_id, reason, services=services)
        if comment.parent_id is not None:
            await bump_replies(session, comment.parent_id, -1)
    if comment.parent_id is None and status != CommentStatus.held:
        replies = (await session.scalars(sa.select(Comment).where(
            Comment.clip_id == comment.clip_id, Comment.parent_id == comment.id,
            Comment.status.in_([CommentStatus.visible.value, CommentStatus.held.value])).with_for_update())).all()
        for reply in replies:
            if reply.status == CommentStatus.visible.value:
                deleted_event(session, reply, creator_id, actor_id, f"thread {reason}", services=services)
            reply.status = CommentStatus.deleted.value


async def delete(*, services: Services, user: User, clip_id: int, comment_id: int) -> CommentDeleted:
    """By the author or the clip's creator; replies of a top-level comment go with it.

    The creator may remove any comment on their clip, including one by a user they have since
    blocked: a block hides that comment from the creator's own reads, but everyone else still
    sees it, so "not found" would leave the creator no way to take it down."""
    clip = await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=user.id)
    if clip.owner_id == user.id:
        async with services.db.shard_session(clip_id) as session:
            comment = await session.get(Comment, comment_id)
        if comment is None or comment.clip_id != clip_id or comment.status not in (
                CommentStatus.visible.value, CommentStatus.held.value):
            raise NotFound(f"no comment {comment_id}")
    else:
        comment = await get_visible(services=services, viewer_id=user.id, clip_id=clip_id, comment_id=comment_id)
    if user.id not in (comment.author_id, clip.owner_id):
        raise Forbidden("only the author or the clip's creator can delete this comment")
    async with services.db.shard_session(clip_id) as session:
        stored = await session.get(Comment, comment.id, with_for_update=True)
        if stored is not None and stored.status in (CommentStatus.visible.value, CommentStatus.held.value):
            await take_down(session, stored, clip.owner_id, user.id, CommentStatus.deleted, "deleted",
                            services=services)
    return CommentDeleted(id=str(comment_id))


async def set_like(*, services: Services, user: User, clip_id: int, comment_id: int, liked: bool) -> CommentLikeState:
    """Likes on comments keep an exact count on the comment row, in the same transaction."""
    comment = await get_visible(services=services, viewer_id=user.id, clip_id=clip_id, comment_id=comment_id)
    if comment.status != CommentStatus.visible.value:
        raise NotFound(f"no comment {comment_id}")
    async with services.db.shard_session(clip_id) as session:
        if liked:
            changed = await graph.insert_ignore(session, CommentLike, {
                "comment_id": comment.id, "user_id": user.id, "clip_id": clip_id, "created_at": utcnow()})
        else:
            result = await session.execute(sa.delete(CommentLike).where(
                CommentLike.comment_id == comment.id, CommentLike.user_id == user.id))
            changed = bool(getattr(result, "rowcount", 0))
        if changed:
            await session.execute(sa.update(Comment).where(Comment.id == comment.id).values(
                like_count=Comment.like_count + (1 if liked else -1)))
        count = await session.scalar(sa.select(Comment.like_count).where(Comment.id == comment.id))
    return CommentLikeState(comment_id=str(comment_id), liked=liked, like_count=int(count or 0))


async def pin(*, services: Services, user: User, clip_id: int, comment_id: int, pinned: bool) -> CommentPublic:
    comment = await get_visible(services=services, viewer_id=user.id, clip_id=clip_id, comment_id=comment_id)
    if comment.status != CommentStatus.visible.value or comment.parent_id is not None:
        raise Invalid("only a visible top-level comment can be pinned")
    current = (await comment_settings.for_clip(db=services.db, clip_id=clip_id)).pinned_comment_id
    target = comment.id if pinned else (None if current == comment.id else current)
    setting = await comment_settings.set_pinned(services=services, user=user, clip_id=clip_id, comment_id=target)
    return (await views(services=services, viewer_id=user.id, comments=[comment],
                        pinned_id=setting.pinned_comment_id))[0]
