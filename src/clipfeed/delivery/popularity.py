"""Which clips are popular, per region, from the stream worker's trending scores.

Read through a small per-process memory refreshed every ``REFRESH_S``: the origin asks for every
image it serves (image TTLs depend on it), so it must not cost a cache round trip each time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
REFRESH_S = 60.0
POPULAR_COUNT = 200
_memory: dict[str | None, tuple[float, set[int]]] = {}


async def top_clip_ids(*, services: Services, region: str | None, limit: int) -> list[int]:
    """Trending clips of ``region`` (None: everywhere), best first. Empty when the stream
    pipeline has nothing yet or cannot be reached: delivery then works without hints."""
    from clipfeed.stream import trending

    try:
        ranked = await trending.top_clips(services=services, region=region, limit=limit)
    except Exception as exc:  # popularity is a hint; never fail a request or a job over it
        log.warning("delivery.trending_unavailable", error=str(exc))
        return []
    return [int(clip_id) for clip_id, _score in ranked]


async def is_popular(*, services: Services, clip_id: int, region: str | None = None) -> bool:
    remembered = _memory.get(region)
    if remembered is None or remembered[0] < time.monotonic():
        ids = await top_clip_ids(services=services, region=region, limit=POPULAR_COUNT)
        remembered = _memory[region] = (time.monotonic() + REFRESH_S, set(ids))
    return clip_id in remembered[1]
