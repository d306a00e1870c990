"""Hashtag pages and follows, Discover, similar clips, mute filters (thin routes)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipPublic
from clipfeed.http.deps import CurrentUser, Deps, OptionalUser
from clipfeed.http.params import ClipId
from clipfeed.infra.search import open_search_index
from clipfeed.search import discovery, mutes
from clipfeed.search.discovery import ShownClip

router = APIRouter(prefix="/v1", tags=["discovery"])
# The schema states the whole rule, so a tag it allows is never refused: one word of letters,
# digits and '_' (what a caption's #tag is), optionally after '#'. A tag that folds to something
# no caption can hold (``½`` → ``1⁄2``) simply has no clips: 404.
Tag = Annotated[str, Path(min_length=1, max_length=51, pattern=r"^#?\w{1,50}$",
                          description="a hashtag (letters, digits and '_', at most 50), with or without '#'")]


class HashtagCountPublic(BaseModel):
    tag: str
    clip_count: int


class HashtagPagePublic(BaseModel):
    tag: str
    clip_count: int
    views: int
    top: list[ClipPublic]
    newest: list[ClipPublic]
    related: list[HashtagCountPublic]
    following: bool


class HashtagFollowState(BaseModel):
    tag: str
    following: bool


class FollowedHashtags(BaseModel):
    items: list[str]


class CreatorCard(BaseModel):
    id: str
    handle: str
    display_name: str
    clip_count: int


class DiscoverHashtag(BaseModel):
    tag: str
    clip_count: int
    clips: list[ClipPublic]


class DiscoverPage(BaseModel):
    region: str | None
    hashtags: list[DiscoverHashtag]
    trending_creators: list[CreatorCard]
    new_creators: list[CreatorCard]


class SimilarClips(BaseModel):
    items: list[ClipPublic]


class MuteKind(StrEnum):
    word = "word"        # a word or phrase, whole words
    hashtag = "hashtag"


class MuteFilterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: MuteKind
    value: str = Field(min_length=1, max_length=100)


class MuteFilterPublic(BaseModel):
    kind: MuteKind
    value: str


class MuteFilters(BaseModel):
    items: list[MuteFilterPublic]


def _views(items: list[ShownClip]) -> list[ClipPublic]:
    return [clips_service.public_view(s.clip, owner_handle=s.owner_handle) for s in items]


@router.get("/hashtags/{tag}", response_model=HashtagPagePublic)
async def hashtag_page(tag: Tag, services: Deps, viewer: OptionalUser) -> HashtagPagePublic:
    """A hashtag's page: its listed clip count, views, top and newest clips, and the hashtags
    most often used with it."""
    page = await discovery.hashtag_page(services=services, index=open_search_index(services.db),
                                        viewer_id=viewer.id if viewer else None, tag=tag)
    return HashtagPagePublic(tag=page.tag, clip_count=page.clip_count, views=page.views, top=_views(page.top),
                             newest=_views(page.newest), following=page.following,
                             related=[HashtagCountPublic(tag=t.tag, clip_count=t.clip_count) for t in page.related])


@router.put("/hashtags/{tag}/follow", response_model=HashtagFollowState)
async def follow_hashtag(tag: Tag, services: Deps, user: CurrentUser) -> HashtagFollowState:
    """Follow a hashtag (idempotent): its clips join the For You candidates and the
    ``GET /v1/feed?tab=hashtags`` feed."""
    name = await discovery.set_following(services=services, index=open_search_index(services.db), user_id=user.id,
                                         tag=tag, follow=True)
    return HashtagFollowState(tag=name, following=True)


@router.delete("/hashtags/{tag}/follow", response_model=HashtagFollowState)
async def unfollow_hashtag(tag: Tag, services: Deps, user: CurrentUser) -> HashtagFollowState:
    """Stop following a hashtag (idempotent)."""
    name = await discovery.set_following(services=services, index=open_search_index(services.db), user_id=user.id,
                                         tag=tag, follow=False)
    return HashtagFollowState(tag=name, following=False)


@router.get("/me/hashtags", response_model=FollowedHashtags)
async def my_hashtags(services: Deps, user: CurrentUser) -> FollowedHashtags:
    """The hashtags the signed-in user follows, latest first."""
    return FollowedHashtags(items=await discovery.followed_hashtags(services=services, user_id=user.id))


@router.get("/discover", response_model=DiscoverPage)
async def discover_page(services: Deps, viewer: OptionalUser,
                        region: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,32}$")] = None) -> DiscoverPage:
    """Trending hashtags with sample clips, trending creators and new creators (per region
    when given). Falls back to the catalogue's largest hashtags and creators while there is
    little engagement, so it is never empty on an instance with a few clips."""
    region = region.lower() if region else None
    found = await discovery.discover(services=services, index=open_search_index(services.db),
                                     viewer_id=viewer.id if viewer else None, region=region)

    def cards(creators: list[Any]) -> list[CreatorCard]:
        return [CreatorCard(id=str(c.user_id), handle=c.handle, display_name=c.display_name, clip_count=c.clip_count)
                for c in creators]

    return DiscoverPage(region=region, trending_creators=cards(found.trending_creators),
                        new_creators=cards(found.new_creators),
                        hashtags=[DiscoverHashtag(tag=t.tag, clip_count=t.clip_count, clips=_views(sample))
                                  for t, sample in found.hashtags])


@router.get("/clips/{clip_id}/similar", response_model=SimilarClips)
async def similar_clips(clip_id: ClipId, services: Deps, viewer: OptionalUser,
                        limit: Annotated[int, Query(ge=1, le=50)] = 10) -> SimilarClips:
    """Clips closest in meaning to this one (caption embeddings), else sharing its hashtags;
    filtered like search."""
    found = await discovery.similar(services=services, index=open_search_index(services.db),
                                    viewer_id=viewer.id if viewer else None, clip_id=clip_id, limit=limit)
    return SimilarClips(items=_views(found))


@router.get("/me/filters", response_model=MuteFilters)
async def list_mute_filters(services: Deps, user: CurrentUser) -> MuteFilters:
    """The signed-in user's muted words, phrases and hashtags."""
    found = await mutes.list_filters(db=services.db, user_id=user.id)
    return MuteFilters(items=[MuteFilterPublic(kind=MuteKind(k), value=v) for k, v in found])


@router.post("/me/filters", response_model=MuteFilterPublic, status_code=status.HTTP_201_CREATED)
async def add_mute_filter(body: MuteFilterIn, services: Deps, user: CurrentUser) -> MuteFilterPublic:
    """Mute a word or phrase (whole words, case- and accent-insensitive) or a hashtag:
    matching clips leave search, hashtag pages, Discover, similar clips and the feeds, and
    matching comments come marked ``filtered`` (idempotent)."""
    kind, value = await mutes.add(db=services.db, user_id=user.id, kind=body.kind.value, value=body.value)
    await discovery.feed_links_changed(services=services, user_id=user.id)
    return MuteFilterPublic(kind=MuteKind(kind), value=value)


@router.delete("/me/filters/{kind}/{value}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_mute_filter(kind: MuteKind, value: Annotated[str, Path(min_length=1, max_length=100)],
                             services: Deps, user: CurrentUser) -> Response:
    """Unmute (idempotent)."""
    await mutes.remove(db=services.db, user_id=user.id, kind=kind.value, value=value)
    await discovery.feed_links_changed(services=services, user_id=user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
