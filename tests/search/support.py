"""Helpers of the search tests: creators and clips written straight to the tables (no media
processing), then indexed the way ``clipfeed search reindex`` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from clipfeed.accounts.models import User
from clipfeed.clips.models import Clip, normalise_hashtags
from clipfeed.infra.search import open_search_index
from clipfeed.search.indexing import rebuild, refresh_clips, refresh_creators


async def add_creator(handle: str, display_name: str = "", language: str | None = None, *, services: Any) -> User:
    user = User(id=services.ids.next_id(), handle=handle, email=None, display_name=display_name, role="user",
                language=language)
    async with services.db.session() as session:
        session.add(user)
    await refresh_creators(db=services.db, index=open_search_index(services.db), user_ids=[user.id])
    return user


async def add_clip(owner: User | int, caption: str, *, services: Any, hashtags: list[str] | None = None,
                   status: str = "ready", visibility: str = "public", duration_ms: int = 15_000,
                   age: timedelta = timedelta(days=1), index: bool = True) -> Clip:
    published = datetime.now(UTC) - age
    clip = Clip(id=services.ids.next_id(), owner_id=owner if isinstance(owner, int) else owner.id,
                caption=caption, hashtags=normalise_hashtags(hashtags or [], caption), visibility=visibility,
                status=status, media={}, duration_ms=duration_ms, published_at=published, created_at=published)
    async with services.db.session() as session:
        session.add(clip)
    if index:
        await refresh_clips(db=services.db, index=open_search_index(services.db), clip_ids=[clip.id])
    return clip


async def reindex(*, services: Any) -> int:
    return await rebuild(db=services.db, index=open_search_index(services.db))


def clip_ids(body: dict[str, Any]) -> list[int]:
    return [int(hit["clip"]["id"]) for hit in body["clips"]]
