"""Per-clip comment settings (everyone / followers / off) and the pinned comment.

Kept in the social feature's own table ``clip_social_settings`` (main database), one row per
clip that has ever changed its defaults; a clip without a row takes comments from everyone.
Each change is one upsert: a process killed half-way has either made it or not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from clipfeed.accounts.models import User
from clipfeed.core.errors import Forbidden
from clipfeed.infra.db import Database, insert_for, utcnow
from clipfeed.social import access
from clipfeed.social.models import ClipSocialSettings, CommentSetting
from clipfeed.social.schemas import CommentSettings

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


@dataclass(frozen=True)
class ClipSetting:
    comments: CommentSetting = CommentSetting.everyone
    pinned_comment_id: int | None = None


def may_comment(setting: CommentSetting, *, is_owner: bool, follows_owner: bool) -> bool:
    if setting == CommentSetting.off:
        return False
    return setting == CommentSetting.everyone or is_owner or follows_owner


async def for_clips(*, db: Database, clip_ids: list[int]) -> dict[int, ClipSetting]:
    async with db.read_session() as session:
        rows = (await session.scalars(sa.select(ClipSocialSettings).where(
            ClipSocialSettings.clip_id.in_(set(clip_ids))))).all()
    found = {r.clip_id: ClipSetting(CommentSetting(r.comments), r.pinned_comment_id) for r in rows}
    return {c: found.get(c, ClipSetting()) for c in clip_ids}


async def for_clip(*, db: Database, clip_id: int) -> ClipSetting:
    return (await for_clips(db=db, clip_ids=[clip_id]))[clip_id]


async def _owned_clip(user: User, clip_id: int, *, services: Services) -> None:
    clip = await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=user.id)
    if clip.owner_id != user.id:
        raise Forbidden("only the clip's creator can change its comment settings")


async def _upsert(db: Database, clip_id: int, **values: object) -> ClipSetting:
    async with db.session() as session:
        stmt = insert_for(session, ClipSocialSettings).values(clip_id=clip_id, updated_at=utcnow(), **values)
        await session.execute(stmt.on_conflict_do_update(index_elements=["clip_id"],
                                                         set_={**values, "updated_at": utcnow()}))
    return await for_clip(db=db, clip_id=clip_id)


async def update(*, services: Services, user: User, clip_id: int, comments: CommentSetting) -> CommentSettings:
    await _owned_clip(user, clip_id, services=services)
    setting = await _upsert(services.db, clip_id, comments=comments.value)
    return view(clip_id, setting)


async def read(*, services: Services, viewer_id: int | None, clip_id: int) -> CommentSettings:
    await access.visible_clip(db=services.db, clip_id=clip_id, viewer_id=viewer_id)
    return view(clip_id, await for_clip(db=services.db, clip_id=clip_id))


async def set_pinned(*, services: Services, user: User, clip_id: int, comment_id: int | None) -> ClipSetting:
    """Pin ``comment_id`` (replacing any other pin) or unpin (None). The caller checked that
    the comment is a visible top-level comment of the clip."""
    await _owned_clip(user, clip_id, services=services)
    return await _upsert(services.db, clip_id, pinned_comment_id=comment_id)


def view(clip_id: int, setting: ClipSetting) -> CommentSettings:
    return CommentSettings(clip_id=str(clip_id), comments=setting.comments,
                           pinned_comment_id=None if setting.pinned_comment_id is None
                           else str(setting.pinned_comment_id))
