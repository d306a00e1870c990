"""What reports and moderation decisions mean for comments (registered with the queue).

* Report check: the reporter must be able to see the comment (visible, on a clip they see,
  no block between them and the author); otherwise 404, so reports reveal nothing.
* Decision: approving a held comment publishes it; rejecting removes it (and its thread).
  Both are idempotent, so ``decide`` can be re-applied after a crash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips
from clipfeed.core.errors import NotFound
from clipfeed.moderation import service as moderation
from clipfeed.moderation.models import CaseSubject, ModerationCase, SubjectKind
from clipfeed.social import access
from clipfeed.social.comment_reads import find
from clipfeed.social.comments import bump_replies, created_event, take_down
from clipfeed.social.models import Comment, CommentStatus

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


async def comment_owner(comment_id: int, reporter_id: int, *, services: Services) -> int | None:
    comment = await find(db=services.db, comment_id=comment_id)
    if comment is None or comment.status != CommentStatus.visible.value:
        raise NotFound(f"no comment {comment_id}")
    await access.visible_clip(db=services.db, clip_id=comment.clip_id, viewer_id=reporter_id)
    if await access.is_blocked(db=services.db, a=reporter_id, b=comment.author_id):
        raise NotFound(f"no comment {comment_id}")
    return comment.author_id


async def decide_comment(case: ModerationCase, approved: bool, reason: str, *, services: Services) -> None:
    found = await find(db=services.db, comment_id=case.subject_id)
    if found is None:
        return  # never written (see comments.py) or gone: nothing to apply
    owner = (await clips.get_many(db=services.db, clip_ids=[found.clip_id])).get(found.clip_id)
    creator_id = owner.owner_id if owner is not None else found.author_id
    async with services.db.shard_session(found.clip_id) as session:
        comment = await session.get(Comment, found.id, with_for_update=True)
        if comment is None:
            return
        if approved and comment.status == CommentStatus.held.value:
            comment.status = CommentStatus.visible.value
            reply_to = None
            if comment.parent_id is not None:
                await bump_replies(session, comment.parent_id, 1)
                parent = await session.get(Comment, comment.parent_id)
                reply_to = parent.author_id if parent is not None else None
            created_event(session, comment, creator_id, reply_to, services=services)
        elif not approved and comment.status in (CommentStatus.visible.value, CommentStatus.held.value):
            await take_down(session, comment, creator_id, case.decided_by or comment.author_id, CommentStatus.removed,
                             "removed by moderation", services=services)


async def describe_comment(case: ModerationCase, moderator_id: int, *, services: Services) -> CaseSubject:
    found = await find(db=services.db, comment_id=case.subject_id)
    if found is None:
        return CaseSubject(kind=SubjectKind.comment, id=str(case.subject_id), exists=False)
    author = (await accounts.get_many(db=services.db, user_ids=[found.author_id])).get(found.author_id)
    return CaseSubject(kind=SubjectKind.comment, id=str(found.id), exists=found.status != CommentStatus.deleted.value,
                       owner_handle=author.handle if author else None, text=found.body, status=found.status,
                       clip_id=str(found.clip_id))


def register() -> None:
    moderation.on_report_check(SubjectKind.comment, comment_owner)
    moderation.on_decision(SubjectKind.comment, decide_comment)
    moderation.on_describe(SubjectKind.comment, describe_comment)
