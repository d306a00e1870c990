"""What moderation decisions and reports mean for the subjects the foundation owns: clips and
users. Other features (comments) register their own handlers the same way."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips import service as clips
from clipfeed.clips.models import ClipStatus
from clipfeed.core.errors import BadRequest, Forbidden, NotFound
from clipfeed.core.identifiers import parse_user_ref
from clipfeed.delivery.playback import pointer
from clipfeed.delivery.signing import Signer, review_scope
from clipfeed.moderation import service
from clipfeed.moderation.models import CaseSource, CaseSubject, ModerationCase, SubjectKind
from clipfeed.social import service as social

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


async def _clip_owner(clip_id: int, reporter_id: int, *, services: Services) -> int | None:
    # A report on a clip the reporter cannot see (blocked, private, suspended creator) is 404,
    # as every other read of that clip answers them: a report must not confirm it exists.
    clip = await social.visible_clip(db=services.db, clip_id=clip_id, viewer_id=reporter_id)
    return clip.owner_id


async def _hide_clip(case: ModerationCase, *, services: Services) -> None:
    clip = await clips.get(db=services.db, clip_id=case.subject_id, viewer_id=case.subject_owner_id)
    if clip.status == ClipStatus.ready.value:
        await clips.set_status(db=services.db, outbox=services.outbox, clip_id=clip.id, status=ClipStatus.review,
                               reason="hidden while reports are reviewed")


async def _decide_clip(case: ModerationCase, approved: bool, reason: str, *, services: Services) -> None:
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


async def _user_owner(user_id: int, reporter_id: int, *, services: Services) -> int | None:
    users = await accounts.get_many(db=services.db, user_ids=[user_id])
    user = users.get(user_id)
    if user is None or user.deleted_at is not None or user.suspended_at is not None:
        raise NotFound(f"no user {user_id}")
    return user.id


async def _decide_user(case: ModerationCase, approved: bool, reason: str, *, services: Services) -> None:
    await accounts.set_suspended(db=services.db, cache=services.cache, outbox=services.outbox, user_id=case.subject_id,
                                 suspended=not approved, reason=reason)


PLAYABLE = (ClipStatus.review.value, ClipStatus.ready.value)


async def _describe_clip(case: ModerationCase, moderator_id: int, *, services: Services) -> CaseSubject:
    found = (await clips.get_many(db=services.db, clip_ids=[case.subject_id])).get(case.subject_id)
    subject = CaseSubject(kind=SubjectKind.clip, id=str(case.subject_id), clip_id=str(case.subject_id),
                          exists=found is not None and found.status != ClipStatus.deleted.value)
    if found is None:
        return subject
    owner = (await accounts.get_many(db=services.db, user_ids=[found.owner_id])).get(found.owner_id)
    # Signed for review and served by the origin only: the moderator watches a held clip
    # without it becoming playable for anyone else.
    expires = int(time.time()) + services.settings.media_url_ttl_s
    prefix = (f"{services.settings.base_url.rstrip('/')}/media/"
              f"{Signer.from_settings(services.settings).token(review_scope(found.id), expires)}/")
    media = {role: prefix + key for role in ("hls", "mp4", "poster") if (key := pointer(found, role))}
    return subject.model_copy(update={
        "owner_handle": owner.handle if owner else None, "text": found.caption, "status": found.status,
        "status_reason": found.status_reason, "quality_flags": clips.quality_flags(found),
        "duration_ms": found.duration_ms, "media": media if found.status in PLAYABLE else {}})


async def _describe_user(case: ModerationCase, moderator_id: int, *, services: Services) -> CaseSubject:
    user = (await accounts.get_many(db=services.db, user_ids=[case.subject_id])).get(case.subject_id)
    subject = CaseSubject(kind=SubjectKind.user, id=str(case.subject_id),
                          exists=user is not None and user.deleted_at is None)
    if user is None:
        return subject
    return subject.model_copy(update={
        "owner_handle": user.handle, "text": "\n".join(t for t in (user.display_name, user.bio) if t),
        "status": "suspended" if user.suspended_at else "active"})


async def account_for_moderation(*, services: Services, ref: str) -> User:
    """A user by ID or ``@handle``, suspended or not (a moderator may need to lift it)."""
    try:
        parsed = parse_user_ref(ref)
    except ValueError:
        raise NotFound(f"no user {ref[:40]!r}") from None
    if isinstance(parsed, int):
        user = (await accounts.get_many(db=services.db, user_ids=[parsed])).get(parsed)
    else:
        user = await accounts.find_by_handle_any_state(db=services.db, handle=parsed)
    if user is None or user.deleted_at is not None:
        raise NotFound(f"no user {ref[:40]!r}")
    return user


async def set_suspension(*, services: Services, moderator: User, ref: str, suspend: bool,
                         reason: str) -> ModerationCase:
    """Suspend or reinstate an account as a case the moderator opens and decides at once, so
    the audit list shows who did it, when and why, like every other decision."""
    if not reason.strip():
        raise BadRequest("give a reason: it is kept in the audit list")
    user = await account_for_moderation(services=services, ref=ref)
    if user.id == moderator.id:
        raise BadRequest("you cannot suspend your own account")
    if user.is_moderator and moderator.role != "admin":
        raise Forbidden("only an admin may suspend a moderator")
    if (user.suspended_at is not None) == suspend:
        raise BadRequest("the account is already suspended" if suspend else "the account is not suspended")
    case = await service.enqueue(db=services.db, outbox=services.outbox, ids=services.ids,
                                 subject_kind=SubjectKind.user.value, subject_id=user.id,
                                 source=CaseSource.moderator.value, subject_owner_id=user.id, opened_by=moderator.id,
                                 reason=f"{'suspension' if suspend else 'reinstatement'} by @{moderator.handle}")
    return await service.decide(services=services, case_id=case.id, moderator=moderator, approve=not suspend,
                                reason=reason)


def register() -> None:
    service.on_describe(SubjectKind.clip, _describe_clip)
    service.on_describe(SubjectKind.user, _describe_user)
    service.on_report_check(SubjectKind.clip, _clip_owner)
    service.on_hide(SubjectKind.clip, _hide_clip)
    service.on_decision(SubjectKind.clip, _decide_clip)
    service.on_report_check(SubjectKind.user, _user_owner)
    service.on_decision(SubjectKind.user, _decide_user)
