"""Keeping the search index in step with the state of record.

``search-indexer`` (stream role, topics ``clips`` and ``users``): every clip event re-reads the
clip and puts or removes its document, so ready/edited/visibility/moderation/deletion all
converge on the row (replays and reordering are harmless); a user event re-reads the user:
a rename re-indexes their clips under the new handle, a deleted or suspended account leaves
the index with its clips. Blocks need no index change: they filter at query time.
``clipfeed search reindex`` rebuilds everything from the metadata store (``rebuild``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipStatus, Visibility
from clipfeed.core.contract import Topic
from clipfeed.core.events import Event
from clipfeed.federation import service as federation
from clipfeed.federation.service import RemoteRule
from clipfeed.infra.db import Database
from clipfeed.infra.log import Record
from clipfeed.infra.search import ClipDocument, CreatorDocument, SearchIndex, open_search_index
from clipfeed.media import features
from clipfeed.runtime.consumers import Processor
from clipfeed.runtime.services import Services
from clipfeed.search import semantic

BATCH = 500
LOCAL_ONLY = RemoteRule(included=False)


def _active(user: User | None) -> bool:
    return user is not None and user.deleted_at is None and user.suspended_at is None


def listed(clip: Clip, owner: User | None, *, remote: RemoteRule = LOCAL_ONLY) -> bool:
    """What the index holds: ready public clips of active creators (of other servers as the
    federation's discovery rule says)."""
    return (clip.status == ClipStatus.ready.value and clip.visibility == Visibility.public.value
            and _active(owner) and owner is not None and remote.admits(owner.domain))


async def refresh_clips(*, db: Database, index: SearchIndex, clip_ids: list[int],
                        remote: RemoteRule = LOCAL_ONLY) -> int:
    """Put the listed ones among ``clip_ids`` in the index, take the others out; returns how
    many are in."""
    found = await clips_service.get_many(db=db, clip_ids=clip_ids)
    owners = await accounts.get_many(db=db, user_ids=list({c.owner_id for c in found.values()}))
    keep = [c for c in found.values() if listed(c, owners.get(c.owner_id), remote=remote)]
    languages = await features.get_languages(db=db, clip_ids=[c.id for c in keep])
    documents = []
    for clip in keep:
        owner = owners[clip.owner_id]
        documents.append(ClipDocument(
            clip_id=clip.id, owner_id=clip.owner_id, caption=clip.caption, tags=tuple(clip.hashtags or ()),
            handle=owner.handle, display_name=owner.display_name,
            published_at=clip.published_at or clip.created_at,
            language=languages.get(clip.id) or owner.language, duration_ms=clip.duration_ms))
    await index.remove_clips([i for i in clip_ids if i not in {c.id for c in keep}])
    await index.put_clips(documents)
    return len(documents)


async def refresh_creators(*, db: Database, index: SearchIndex, user_ids: list[int], with_clips: bool = True) -> None:
    users = await accounts.get_many(db=db, user_ids=user_ids)
    active = [u for u in users.values() if _active(u)]
    await index.remove_creators([u for u in user_ids if u not in {a.id for a in active}])
    await index.put_creators([CreatorDocument(u.id, u.handle, u.display_name) for u in active])
    for user in active if with_clips else []:
        await refresh_clips(db=db, index=index, clip_ids=await index.clip_ids_of(user.id))


async def rebuild(*, db: Database, index: SearchIndex, progress: Callable[[int], None] | None = None,
                  vectors: bool = True, threads: int = 1, remote: RemoteRule = LOCAL_ONLY) -> int:
    """Empty the index and fill it from the users and clips tables (with ``vectors``, the
    semantic vectors too); returns the clips indexed."""
    await index.clear()
    if vectors:
        await semantic.clear(db=db)
    after = -1
    while True:
        async with db.session() as session:
            ids = list(await session.scalars(sa.select(User.id).where(User.id > after).order_by(User.id).limit(BATCH)))
        if not ids:
            break
        await refresh_creators(db=db, index=index, user_ids=ids, with_clips=False)
        after = ids[-1]
    total, after = 0, -1
    while True:
        async with db.session() as session:
            ids = list(await session.scalars(
                sa.select(Clip.id).where(Clip.id > after, Clip.status == ClipStatus.ready.value,
                                         Clip.visibility == Visibility.public.value).order_by(Clip.id).limit(BATCH)))
        if not ids:
            return total
        total += await refresh_clips(db=db, index=index, clip_ids=ids, remote=remote)
        if vectors:
            await semantic.embed_clips(db=db, clip_ids=ids, threads=threads)
        after = ids[-1]
        if progress is not None:
            progress(len(ids))


class SearchIndexer(Processor):
    group: ClassVar[str] = "search-indexer"
    topics: ClassVar[tuple[str, ...]] = (Topic.CLIPS, Topic.USERS)

    async def handle(self, records: list[Record]) -> None:
        clip_ids: set[int] = set()
        user_ids: set[int] = set()
        for record in records:
            event = Event.decode(record.value)
            (user_ids if record.topic == Topic.USERS else clip_ids).add(int(event.key))
        index = open_search_index(self.services.db)
        if clip_ids:
            await refresh_clips(db=self.services.db, index=index, clip_ids=sorted(clip_ids),
                                remote=await federation.discovery_rule(services=self.services))
        if user_ids:
            await refresh_creators(db=self.services.db, index=index, user_ids=sorted(user_ids))


SEARCH_PROCESSORS: list[Callable[[Services], Processor]] = [SearchIndexer]
