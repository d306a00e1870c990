"""``GET /v1/search`` and ``GET /v1/search/suggest`` (thin: parse, call, shape)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipPublic
from clipfeed.core.errors import Invalid
from clipfeed.http.deps import Deps, OptionalUser
from clipfeed.http.params import Moment
from clipfeed.infra.search import ClipFilters, open_search_index
from clipfeed.search import service
from clipfeed.search.suggest import suggest

router = APIRouter(prefix="/v1", tags=["search"])
REGION = re.compile(r"^[a-z0-9_-]{1,32}$")
_AFTER = ("clips published at or after this instant: an RFC 3339 date-time, or a day `YYYY-MM-DD` (its "
          "midnight UTC); a time without a zone is UTC. Later than `published_before` is a 422 problem")
_BEFORE = "clips published before this instant, written like `published_after`"
_SHORTEST = "clips at least this long; more than `max_duration_ms` is a 422 problem"
_LONGEST = "clips at most this long"


class SearchType(StrEnum):
    all = "all"
    clips = "clips"
    creators = "creators"
    hashtags = "hashtags"


class SearchMode(StrEnum):
    hybrid = "hybrid"    # words and meaning, fused
    lexical = "lexical"  # words only


class ClipHit(BaseModel):
    clip: ClipPublic
    score: float


class CreatorHit(BaseModel):
    id: str
    handle: str
    display_name: str
    clip_count: int
    score: float


class HashtagHit(BaseModel):
    tag: str
    clip_count: int
    score: float


class SearchResults(BaseModel):
    query: str
    type: SearchType
    clips: list[ClipHit]
    creators: list[CreatorHit]
    hashtags: list[HashtagHit]
    next_cursor: str | None


class Suggestion(BaseModel):
    kind: Literal["handle", "hashtag", "query"]
    text: str
    count: int


class Suggestions(BaseModel):
    query: str
    items: list[Suggestion]


def region_of(request: Request, *, services: Deps) -> str:
    header = services.settings.events_region_header
    value = request.headers.get(header, "").strip().lower() if header else ""
    return value if REGION.match(value) else services.settings.region


@router.get("/search", response_model=SearchResults)
async def search(request: Request, services: Deps, viewer: OptionalUser,
                 q: Annotated[str, Query(min_length=1, max_length=200)],
                 type: SearchType = SearchType.all,  # noqa: A002 - the API's parameter name
                 cursor: Annotated[str | None, Query(max_length=64)] = None,
                 limit: Annotated[int, Query(ge=1, le=50)] = 20,
                 published_after: Annotated[Moment | None, Query(description=_AFTER)] = None,
                 published_before: Annotated[Moment | None, Query(description=_BEFORE)] = None,
                 min_duration_ms: Annotated[int | None, Query(ge=0, le=3_600_000, description=_SHORTEST)] = None,
                 max_duration_ms: Annotated[int | None, Query(ge=0, le=3_600_000, description=_LONGEST)] = None,
                 language: Annotated[str | None, Query(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")] = None,
                 mode: SearchMode = SearchMode.hybrid) -> SearchResults:
    """Clips, creators and hashtags for ``q``: words (typos and word forms tolerated, the last
    word matched as a prefix), ``"exact phrases"``, ``#tag`` and ``@handle``. Ranked by text
    relevance blended with engagement, freshness and whom the viewer follows. Only content the
    viewer may see is returned. ``type=all`` gives a page of clips plus the top creators and
    hashtags; another type pages through that kind alone. ``mode=hybrid`` (default) also finds
    clips by meaning ("cat falls off table" → a clip tagged #fail #kitty); ``lexical`` by words
    only."""
    after, before = published_after, published_before
    if after is not None and before is not None and after > before:
        raise Invalid("published_after must not be later than published_before")
    if min_duration_ms is not None and max_duration_ms is not None and min_duration_ms > max_duration_ms:
        raise Invalid("min_duration_ms must not exceed max_duration_ms")
    filters = ClipFilters(published_after=after, published_before=before,
                          min_duration_ms=min_duration_ms, max_duration_ms=max_duration_ms, language=language)
    page = await service.search(services=services, index=open_search_index(services.db),
                                viewer_id=viewer.id if viewer else None, text=q, kind=type.value, filters=filters,
                                cursor=cursor, limit=limit, region=region_of(request, services=services),
                                semantic=mode == SearchMode.hybrid)
    return SearchResults(
        query=q, type=type,
        clips=[ClipHit(clip=clips_service.public_view(r.clip, owner_handle=r.owner_handle), score=r.score)
               for r in page.clips],
        creators=[CreatorHit(id=str(c.user_id), handle=c.handle, display_name=c.display_name,
                             clip_count=c.clip_count, score=s) for c, s in page.creators],
        hashtags=[HashtagHit(tag=t.tag, clip_count=t.clip_count, score=s) for t, s in page.hashtags],
        next_cursor=page.next_cursor)


@router.get("/search/suggest", response_model=Suggestions)
async def search_suggest(request: Request, services: Deps, viewer: OptionalUser,
                         q: Annotated[str, Query(min_length=1, max_length=100)],
                         limit: Annotated[int, Query(ge=1, le=20)] = 8) -> Suggestions:
    """Completions as one types: handles, hashtags and popular past searches in the viewer's
    region that start with ``q`` (typo-tolerant from the fourth letter), with counts (a
    creator's clips, a hashtag's clips, a query's searches)."""
    items = await suggest(services=services, index=open_search_index(services.db),
                          viewer_id=viewer.id if viewer else None, text=q, limit=limit,
                          region=region_of(request, services=services))
    return Suggestions(query=q, items=[Suggestion(kind=k, text=t, count=n) for k, t, n in items])
