"""The For You feed while the cache is unreachable: the newest public clips, read from the
database, minus the viewer's blocks.

Everything the ranked feed serves from (buffers, candidate lists, clip cards, the seen filter)
lives in the cache, which is only a cache (docs/operate/runbooks.md, "Lost Redis"). Rather
than answer 503 until it is back, a page is made from what the database holds: not
personalised and not deduplicated against what the viewer saw, but a feed. Views and playback
hints are rendered without the cache too (``render.py``, ``storage/layout.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import sqlalchemy as sa

from clipfeed.clips.models import Clip, ClipStatus, Visibility
from clipfeed.core.pagination import id_page
from clipfeed.recs.compose import Ranked
from clipfeed.recs.feed import PAGES, ServedPage
from clipfeed.recs.signals import SIGNALS
from clipfeed.recs.viewers import FeedViewer

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

PATH = "degraded"  # ``served_by`` of such a page, and the feed metric's path label
_NO_FEATURES = np.zeros(0, dtype=np.float32)


async def newest_page(viewer: FeedViewer, *, services: Services, cursor: str | None, limit: int) -> ServedPage:
    query = sa.select(Clip).where(Clip.status == ClipStatus.ready.value, Clip.visibility == Visibility.public.value)
    if viewer.user_id is not None:  # a subquery: the blocked list never travels (a blocked server may be large)
        query = query.where(Clip.owner_id.not_in(SIGNALS.hidden_from(viewer.user_id)))
    clips, next_cursor = await id_page(services.db, query, Clip.id, cursor=cursor, limit=limit)
    PAGES.labels("foryou", PATH).inc()
    items = [Ranked(clip.id, clip.owner_id, "recent", "recent", 0.0, _NO_FEATURES) for clip in clips]
    return ServedPage(items=items, cards={}, next_cursor=next_cursor, path=PATH, model="none", session="")
