"""The creator studio's list: every clip of the signed-in creator in any state, with what the
studio shows beside each (live counters, all-time average watch time, comment setting)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from pydantic import BaseModel, Field

from clipfeed.analytics.models import ClipDaily
from clipfeed.clips import service as clips
from clipfeed.clips.models import ClipPublic
from clipfeed.social import comment_settings
from clipfeed.social import engagement as social_engagement

if TYPE_CHECKING:
    from clipfeed.accounts.models import User
    from clipfeed.runtime.services import Services


class StudioStats(BaseModel):
    views: int = Field(description="live counter (stream)")
    likes: int
    comments: int
    shares: int
    avg_watch_ms: float = Field(description="all time, as of the last batch run")


class StudioClip(ClipPublic):
    stats: StudioStats
    comments_setting: str = Field(description="who may comment: everyone, followers or off")


class StudioClipPage(BaseModel):
    items: list[StudioClip]
    next_cursor: str | None


async def my_clips(*, services: Services, creator: User, cursor: str | None, limit: int) -> StudioClipPage:
    """Newest first; processing, held, rejected and failed clips included, with their reasons."""
    found, next_cursor = await clips.list_by_owner(db=services.db, owner_id=creator.id, viewer_id=creator.id,
                                                   cursor=cursor, limit=limit)
    ids = [clip.id for clip in found]
    counts = await social_engagement.clip_counts(services=services, clip_ids=ids)
    settings = await comment_settings.for_clips(db=services.db, clip_ids=ids)
    async with services.db.session() as session:
        watched = {int(row[0]): (int(row[1] or 0), int(row[2] or 0)) for row in (await session.execute(
            sa.select(ClipDaily.clip_id, sa.func.sum(ClipDaily.watch_ms), sa.func.sum(ClipDaily.plays))
            .where(ClipDaily.creator_id == creator.id, ClipDaily.clip_id.in_(ids))
            .group_by(ClipDaily.clip_id))).all()} if ids else {}
    items = []
    for clip in found:
        count = counts.get(clip.id)
        watch_ms, plays = watched.get(clip.id, (0, 0))
        view = clips.public_view(clip, owner_handle=creator.handle, viewer_id=creator.id)
        items.append(StudioClip(**view.model_dump(), comments_setting=settings[clip.id].comments.value,
                                stats=StudioStats(views=count.views if count else 0, likes=count.likes if count else 0,
                                                  comments=count.comments if count else 0,
                                                  shares=count.shares if count else 0,
                                                  avg_watch_ms=watch_ms / plays if plays else 0.0)))
    return StudioClipPage(items=items, next_cursor=next_cursor)
