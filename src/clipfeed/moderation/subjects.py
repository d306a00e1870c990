"""What moderation decisions and reports mean for the subjects the foundation owns: clips and
users. Other features (comments) register their own handlers the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips
from clipfeed.clips.models import ClipStatus
from clipfeed.core.errors import NotFound
from clipfeed.moderation import service
from clipfeed.moderation.models import ModerationCase, SubjectKind
from clipfeed.social import service as social

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


async def _clip_owner(services: Services, clip_id: int, reporter_id: int) -> int | None:
    # A report on a clip the reporter cannot see (blocked, private, suspended creator) is 404,
    # as every other read of that clip answers them: a report must not confirm it exists.
    clip = await social.visible_clip(db=services.db, clip_id=clip_id, viewer_id=reporter_id)
    return clip.owner_id


async def _hide_clip(services: Services, case: ModerationCase) -> None:
    clip = await clips.get(db=services.db, clip_id=case.subject_id, viewer_id=case.subject_owner_id)
    if clip.status == ClipStatus.ready.value:
        await clips.set_status(db=services.db, outbox=services.outbox, clip_id=clip.id, status=ClipStatus.review,
                               reason="hidden while reports are reviewed")


async def _decide_clip(services: Services, case: ModerationCase, approved: bool, reason: str) -> None:
    try:
        clip = await clips.get(db=services.db, clip_id=case.subject_id, viewer_id=case.subject_owner_id)
    except NotFound:
        return  # deleted meanwhile: nothing to apply
    if approved:
        if clip.status == ClipStatus.review.value:
            await clips.set_status(db=services.db, outbox=services.outbox, clip_id=clip.id,
                                   status=ClipStatus.ready)
    elif clip.status != ClipStatus.rejected.value:
        await clips.set_status(db=services.db, outbox=services.outbox, clip_id=clip.id,
                               status=ClipStatus.rejected, reason=f"removed after review: {reason}")


async def _user_owner(services: Services, user_id: int, reporter_id: int) -> int | None:
    users = await accounts.get_many(db=services.db, user_ids=[user_id])
    user = users.get(user_id)
    if user is None or user.deleted_at is not None or user.suspended_at is not None:
        raise NotFound(f"no user {user_id}")
    return user.id


async def _decide_user(services: Services, case: ModerationCase, approved: bool, reason: str) -> None:
    await accounts.set_suspended(db=services.db, cache=services.cache, outbox=services.outbox, user_id=case.subject_id,
                                 suspended=not approved, reason=reason)


def register() -> None:
    service.on_report_check(SubjectKind.clip, _clip_owner)
    service.on_hide(SubjectKind.clip, _hide_clip)
    service.on_decision(SubjectKind.clip, _decide_clip)
    service.on_report_check(SubjectKind.user, _user_owner)
    service.on_decision(SubjectKind.user, _decide_user)
