"""Discovery: hashtag pages, followed hashtags, Discover, similar clips.

Everything shown goes through the same visibility check and the viewer's mute filters as
search. Discover falls back from trending (needs engagement) to the catalogue's largest
hashtags and creators, so a fresh instance with a few clips still shows something."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.clips.models import Clip
from clipfeed.core.errors import NotFound
from clipfeed.infra.db import utcnow
from clipfeed.infra.search import CreatorDocument, HashtagCount, SearchIndex
from clipfeed.infra.search.tables import SearchClipVector
from clipfeed.infra.search.text import fold, words
from clipfeed.search import access, mutes, semantic
from clipfeed.search.models import HashtagFollow
from clipfeed.stream import trending
from clipfeed.stream.counters import get_clip_counts

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

SAMPLE = 3
TAG_CLIPS_SCANNED = 1000  # views and top clips of a hashtag are computed over its newest clips


@dataclass
class ShownClip:
    clip: Clip
    owner_handle: str | None


@dataclass
class HashtagPage:
    tag: str
    clip_count: int
    views: int
    top: list[ShownClip]
    newest: list[ShownClip]
    related: list[HashtagCount]
    following: bool


@dataclass
class Discover:
    hashtags: list[tuple[HashtagCount, list[ShownClip]]] = field(default_factory=list)
    trending_creators: list[CreatorDocument] = field(default_factory=list)
    new_creators: list[CreatorDocument] = field(default_factory=list)


def tag_of(text: str) -> str | None:
    """The stored form of a hashtag from a path, or None when no caption can hold it (folding
    can split or lengthen a word: ``½`` → ``1⁄2``, ``ﷺ`` → 18 letters)."""
    tag = fold(text.strip().lstrip("#"))
    return tag if tag and len(tag) <= 50 and words(tag) == [tag] else None


async def shown(*, services: Services, viewer_id: int | None, clip_ids: list[int]) -> list[ShownClip]:
    """The clips among ``clip_ids`` the viewer may see and has not muted, in that order."""
    visible = await access.visible_clips(db=services.db, viewer_id=viewer_id, clip_ids=clip_ids)
    muted = await mutes.of(db=services.db, user_id=viewer_id)
    kept = [visible[i] for i in clip_ids if i in visible and not muted.hides(visible[i])]
    owners = await accounts.get_many(db=services.db, user_ids=list({c.owner_id for c in kept}))
    return [ShownClip(c, owners[c.owner_id].handle if c.owner_id in owners else None) for c in kept]


async def hashtag_page(*, services: Services, index: SearchIndex, viewer_id: int | None, tag: str,
                       limit: int = 10) -> HashtagPage:
    name = tag_of(tag)
    found = None if name is None else await index.hashtag(name)
    if name is None or found is None:
        raise NotFound(f"no clips with #{name or tag.lstrip('#')}")
    tag = name
    ids = await index.clip_ids_tagged(tag, limit=TAG_CLIPS_SCANNED)
    counts = await get_clip_counts(services=services, clip_ids=ids)
    by_views = sorted(ids, key=lambda i: (-(counts[i].views + 5 * counts[i].likes), -i))
    following = False
    if viewer_id is not None:
        async with services.db.session() as session:
            following = await session.get(HashtagFollow, (viewer_id, tag)) is not None
    return HashtagPage(tag=tag, clip_count=found.clip_count, views=sum(c.views for c in counts.values()),
                       top=(await shown(services=services, viewer_id=viewer_id, clip_ids=by_views[:limit * 2]))[:limit],
                       newest=(await shown(services=services, viewer_id=viewer_id, clip_ids=ids[:limit * 2]))[:limit],
                       related=await index.related_hashtags(tag, limit=10), following=following)


async def set_following(*, services: Services, index: SearchIndex, user_id: int, tag: str, follow: bool) -> str:
    """Follow or unfollow a hashtag (idempotent); following needs at least one listed clip."""
    name = tag_of(tag)
    if name is None:
        if follow:
            raise NotFound(f"no clips with #{tag.lstrip('#')}")
        return fold(tag.lstrip("#"))  # never followed, so nothing to undo
    tag = name
    async with services.db.session() as session:
        existing = await session.get(HashtagFollow, (user_id, tag))
        if follow and existing is None:
            if await index.hashtag(tag) is None:
                raise NotFound(f"no clips with #{tag}")
            session.add(HashtagFollow(user_id=user_id, tag=tag, created_at=utcnow()))
        elif not follow and existing is not None:
            await session.delete(existing)
    await feed_links_changed(services=services, user_id=user_id, followed_hashtag=follow)
    return tag


async def feed_links_changed(*, services: Services, user_id: int, followed_hashtag: bool = False) -> None:
    """The feeds cache a viewer's followed hashtags and mute filters with their links: drop them
    after an edit, so the next page uses the new ones."""
    from clipfeed.recs.viewers import forget_links  # recs reads this feature: imported when needed

    await forget_links(user_id, followed_hashtag=followed_hashtag, services=services)


def followed_query(user_id: int | sa.BindParameter[int]) -> sa.Select[str, int]:
    """The hashtags ``user_id`` follows, newest first: (tag, rank from 1), so a reader that
    combines it with other statements keeps the order."""
    newest = HashtagFollow.created_at.desc(), HashtagFollow.tag
    return (sa.select(HashtagFollow.tag, sa.func.row_number().over(order_by=newest).label("rank"))
            .where(HashtagFollow.user_id == user_id).order_by(*newest))


async def followed_hashtags(*, services: Services, user_id: int) -> list[str]:
    async with services.db.session() as session:
        return [tag for tag, _ in (await session.execute(followed_query(user_id))).all()]


async def discover(*, services: Services, index: SearchIndex, viewer_id: int | None, region: str | None,
                   limit: int = 10) -> Discover:
    hot_tags = [t for t, _ in await trending.top_hashtags(services=services, region=region, limit=limit * 2)]
    tags = [found for found in [await index.hashtag(t) for t in hot_tags] if found is not None][:limit]
    if len(tags) < limit:  # too little engagement yet: the catalogue's largest hashtags
        tags += [t for t in await index.top_hashtags(limit=limit * 2) if t.tag not in {x.tag for x in tags}]
    out = Discover()
    for tag in tags[:limit]:
        sample = await shown(services=services, viewer_id=viewer_id,
                             clip_ids=await index.clip_ids_tagged(tag.tag, limit=SAMPLE * 3))
        if sample:
            out.hashtags.append((tag, sample[:SAMPLE]))
    # Creators of trending clips first, then the catalogue's most prolific.
    hot_clips = [c for c, _ in await trending.top_clips(services=services, region=region, limit=limit * 5)]
    hot = await shown(services=services, viewer_id=viewer_id, clip_ids=hot_clips)
    catalogue = {c.user_id: c for c in await index.top_creators(limit=limit * 2)}
    order = list(dict.fromkeys([s.clip.owner_id for s in hot] + list(catalogue)))
    allowed = await access.visible_creators(db=services.db, viewer_id=viewer_id, user_ids=order)
    users = await accounts.get_many(db=services.db, user_ids=[u for u in order if u not in catalogue])
    out.trending_creators = [catalogue.get(u) or CreatorDocument(u, users[u].handle, users[u].display_name)
                             for u in order if u in allowed and (u in catalogue or u in users)][:limit]
    newest = await index.top_creators(limit=limit * 2, newest=True)
    allowed = await access.visible_creators(db=services.db, viewer_id=viewer_id, user_ids=[c.user_id for c in newest])
    out.new_creators = [c for c in newest if c.user_id in allowed][:limit]
    return out


async def similar(*, services: Services, index: SearchIndex, viewer_id: int | None, clip_id: int,
                  limit: int = 10) -> list[ShownClip]:
    """Clips closest in caption meaning (semantic vectors), else those sharing its hashtags."""
    source = await access.visible_clips(db=services.db, viewer_id=viewer_id, clip_ids=[clip_id])
    if clip_id not in source:
        raise NotFound(f"no clip {clip_id}")
    async with services.db.session() as session:
        row = await session.get(SearchClipVector, clip_id)
    near: list[int] = []
    if row is not None:
        vector = np.frombuffer(row.vector, dtype="<f4")
        near = [i for i in await semantic.neighbours_of(db=services.db, vector=vector, limit=limit * 3) if i != clip_id]
    for tag in source[clip_id].hashtags or []:
        if len(near) >= limit * 3:
            break
        near += [i for i in await index.clip_ids_tagged(tag, limit=limit * 3) if i != clip_id and i not in near]
    return (await shown(services=services, viewer_id=viewer_id, clip_ids=near))[:limit]
