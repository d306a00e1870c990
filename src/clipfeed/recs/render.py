"""Turning served clips into feed items: the public clip view (cached briefly, write-through
from the metadata store) plus playback hints for a fast start (poster, master playlist, start
rendition, edge), which depend on the viewer's network and region and so are made per request.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from clipfeed.accounts import service as accounts
from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipPublic
from clipfeed.recs.feed import ServedPage
from clipfeed.recs.models import FeedItem
from clipfeed.recs.signals import SIGNALS
from clipfeed.recs.viewers import Viewer

if TYPE_CHECKING:
    from clipfeed.bootstrap import Services

VIEW_TTL_S = 120.0


def view_key(clip_id: int) -> str:
    return f"recs:view:{clip_id}"


async def clip_views(services: Services, clip_ids: list[int]) -> dict[int, tuple[ClipPublic, Clip]]:
    """Public views of clips with a detached ``Clip`` for playback hints; a deleted clip's view
    may outlive it by ``VIEW_TTL_S``, but deleted clips lose their card first and are never served."""
    raw = await services.cache.get_many([view_key(c) for c in clip_ids])
    out: dict[int, tuple[ClipPublic, Clip]] = {}
    missing = []
    for clip_id, value in zip(clip_ids, raw, strict=True):
        if value is None:
            missing.append(clip_id)
            continue
        data = orjson.loads(value)
        out[clip_id] = (ClipPublic.model_validate(data["view"]), _detached(data["clip"]))
    if missing:
        found = await clips_service.get_many(db=services.db, clip_ids=missing)
        owners = await accounts.get_many(db=services.db, user_ids=list({c.owner_id for c in found.values()}))
        fresh: dict[str, bytes] = {}
        for clip_id, clip in found.items():
            owner = owners.get(clip.owner_id)
            view = clips_service.public_view(clip, owner_handle=owner.handle if owner else None)
            row = {column.key: getattr(clip, column.key) for column in Clip.__table__.columns}
            out[clip_id] = (view, _detached(row))
            fresh[view_key(clip_id)] = orjson.dumps({"view": view.model_dump(mode="json"), "clip": row})
        if fresh:
            await services.cache.set_many(fresh, ttl=VIEW_TTL_S)
    return out


def _detached(row: dict[str, Any]) -> Clip:
    """A ``Clip`` rebuilt from its cached columns (not attached to any session)."""
    values = dict(row)
    for column in Clip.__table__.columns:
        kind = getattr(column.type, "impl", column.type)
        if isinstance(kind, sa.DateTime) and isinstance(values.get(column.key), str):
            values[column.key] = datetime.fromisoformat(values[column.key])
    return Clip(**values)


async def feed_items(services: Services, viewer: Viewer, page: ServedPage) -> list[FeedItem]:
    views = await clip_views(services, [r.clip_id for r in page.items])
    items: list[FeedItem] = []
    for ranked in page.items:
        found = views.get(ranked.clip_id)
        if found is None:
            continue
        view, clip = found
        info = await SIGNALS.playback_info(services, clip, viewer.user_id, viewer.region, viewer.network)
        items.append(FeedItem(clip=view, playback=info, source=ranked.source, reason=ranked.reason,
                              position=len(items)))
    return items
