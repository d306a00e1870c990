"""Turning served clips into feed items: the public clip view plus playback hints for a fast
start (poster, master playlist, start rendition, edge), which depend on the viewer's network
and region and so are made per request.

Views are cached for ``VIEW_TTL_S``: written by the recs indexer whenever a clip is (re)indexed,
so listed clips' views are ready before any feed serves them, and on a miss from the metadata
store. A clip's own edits re-index it within the worker's lag; a creator's new handle reaches
their clips' views within ``VIEW_TTL_S`` (so does a new avatar).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import orjson

from clipfeed.accounts import service as accounts
from clipfeed.accounts.models import User
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipPublic
from clipfeed.core.errors import Unavailable
from clipfeed.core.memo import TtlLru
from clipfeed.delivery.models import PlaybackInfo
from clipfeed.infra.db import detached, row_of
from clipfeed.recs.feed import ServedPage
from clipfeed.recs.models import FeedItem
from clipfeed.recs.render_keys import view_key
from clipfeed.recs.signals import SIGNALS
from clipfeed.recs.viewers import FeedViewer

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

VIEW_TTL_S = 3600.0


async def clip_views(clip_ids: list[int], *, services: Services,
                     prefetched: dict[int, bytes] | None = None) -> dict[int, tuple[ClipPublic, dict[str, Any]]]:
    """Public views of clips with their columns (for playback hints); a deleted clip's view may
    outlive it by ``VIEW_TTL_S``, but deleted clips lose their card first and are never served."""
    if prefetched is not None:
        raw = [prefetched.get(c) for c in clip_ids]
    else:
        try:
            raw = await services.cache.get_many([view_key(c) for c in clip_ids])
        except Unavailable:  # the cache is down: every view is read from the database
            raw = [None] * len(clip_ids)
    out: dict[int, tuple[ClipPublic, dict[str, Any]]] = {}
    missing = []
    for clip_id, value in zip(clip_ids, raw, strict=True):
        if value is None:
            missing.append(clip_id)
            continue
        data = orjson.loads(value)
        out[clip_id] = (ClipPublic.model_validate(data["view"]), data["clip"])
    if missing:
        found = await clips_service.get_many(db=services.db, clip_ids=missing)
        owners = await accounts.get_many(db=services.db, user_ids=list({c.owner_id for c in found.values()}))
        out.update(await cache_views(list(found.values()), owners, services=services))
    return out


async def cache_views(clips: list[Clip], owners: dict[int, User],
                      *, services: Services) -> dict[int, tuple[ClipPublic, dict[str, Any]]]:
    """Render and cache the views of ``clips`` (``owners``: their creators, for handles)."""
    out: dict[int, tuple[ClipPublic, dict[str, Any]]] = {}
    fresh: dict[str, bytes] = {}
    for clip in clips:
        owner = owners.get(clip.owner_id)
        avatar = accounts.avatar_url(owner, settings=services.settings) if owner else None
        view = clips_service.public_view(clip, owner_handle=owner.handle if owner else None,
                                         owner_avatar_url=services.settings.base_url + avatar if avatar else None)
        row = orjson.loads(orjson.dumps(row_of(clip)))  # as a cache hit reads it back
        out[clip.id] = (view, row)
        fresh[view_key(clip.id)] = orjson.dumps({"view": view.model_dump(mode="json"), "clip": row})
    if fresh:
        with contextlib.suppress(Unavailable):  # a view not cached is rendered again next time
            await services.cache.set_many(fresh, ttl=VIEW_TTL_S)
    return out


HINT_TTL_S = 30.0
# Playback info of public clips per (clip, region, network, version), kept in this process: the
# same for every viewer of a public clip, and costly to build per item.
HINTS: TtlLru[tuple[int, str, str | None, str], PlaybackInfo | None] = TtlLru(50_000, HINT_TTL_S)


async def _playback(viewer: FeedViewer, row: dict[str, Any], *, services: Services) -> PlaybackInfo | None:
    key = (int(row["id"]), viewer.region, viewer.network, str(row.get("updated_at")))
    public = row.get("visibility") == "public"
    if public:
        hit, info = HINTS.get(key)
        if hit:
            return info
    try:
        info = await SIGNALS.playback_info(detached(Clip, row), viewer.user_id, viewer.region, viewer.network,
                                           services=services)
    except Unavailable:
        return None  # hints are optional: the app asks for playback per clip
    if public and (info is None or not info.signed):
        HINTS.put(key, info)
    return info


async def feed_items(viewer: FeedViewer, page: ServedPage, *, services: Services) -> list[FeedItem]:
    views = await clip_views([r.clip_id for r in page.items], prefetched=page.views, services=services)
    shown = [(ranked, views[ranked.clip_id]) for ranked in page.items if ranked.clip_id in views]
    infos = await asyncio.gather(*(_playback(viewer, row, services=services) for _, (_, row) in shown))
    return [FeedItem(clip=view, playback=info, source=ranked.source, reason=ranked.reason, position=position)
            for position, ((ranked, (view, _)), info) in enumerate(zip(shown, infos, strict=True))]
