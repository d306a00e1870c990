"""``GET /v1/trending`` and ``GET /v1/hashtags/trending``."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipPublic
from clipfeed.core.errors import Invalid
from clipfeed.http.deps import Deps, OptionalUser
from clipfeed.social import service as social
from clipfeed.stream import trending

router = APIRouter(prefix="/v1", tags=["trending"])
REGION = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
Limit = Annotated[int, Query(ge=1, le=100)]
Region = Annotated[str | None, Query(pattern=REGION.pattern, description="letters, digits, '-' and '_'")]


class TrendingClip(BaseModel):
    clip: ClipPublic
    score: float


class TrendingClips(BaseModel):
    region: str | None
    items: list[TrendingClip]


class TrendingHashtag(BaseModel):
    tag: str
    score: float


class TrendingHashtags(BaseModel):
    region: str | None
    items: list[TrendingHashtag]


def _region(region: str | None) -> str | None:
    if region is not None and not REGION.match(region):
        raise Invalid("region: letters, digits, '-' and '_' only (at most 32)")
    return region.lower() if region else None


@router.get("/trending", response_model=TrendingClips)
async def trending_clips(services: Deps, viewer: OptionalUser, region: Region = None,
                         limit: Limit = 20) -> TrendingClips:
    """Clips gaining engagement fastest now (time-decayed, per-viewer capped); fresh within
    seconds. ``region`` narrows to viewers of one region. Clips of creators you block, or who
    block you, are left out."""
    region = _region(region)
    ranked = await trending.top_clips(services=services, region=region, limit=limit)
    # The cache may trail a deletion or a visibility change by a moment: the rows decide.
    clips = await social.visible_clips(db=services.db, clip_ids=[c for c, _ in ranked],
                                       viewer_id=viewer.id if viewer else None)
    owners = await accounts.get_many(db=services.db, user_ids=list({c.owner_id for c in clips.values()}))
    items = []
    for clip_id, score in ranked:
        clip = clips.get(clip_id)
        if clip is None or clip.visibility != "public" or clip.status != "ready":  # listed: live clips only
            continue
        owner = owners.get(clip.owner_id)
        items.append(TrendingClip(clip=clips_service.public_view(clip, owner_handle=owner.handle if owner else None),
                                  score=round(score, 6)))
    return TrendingClips(region=region, items=items)


@router.get("/hashtags/trending", response_model=TrendingHashtags)
async def trending_hashtags(services: Deps, region: Region = None, limit: Limit = 20) -> TrendingHashtags:
    region = _region(region)
    ranked = await trending.top_hashtags(services=services, region=region, limit=limit)
    return TrendingHashtags(region=region, items=[TrendingHashtag(tag=t, score=round(s, 6)) for t, s in ranked])
