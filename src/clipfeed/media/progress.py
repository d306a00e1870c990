"""Progress reports of media jobs: the latest one per clip in the cache, every one on the log.

The media worker publishes a report for every step (the upload once, at hand-off) as a
``media.progress`` event (key: clip ID) and keeps the latest at ``media:progress:<clip id>``.
The cache is only a cache: without it a processing clip reads as ``queued``.
"""

from __future__ import annotations

from typing import Any

import orjson

from clipfeed.core import contract
from clipfeed.infra.db import utcnow
from clipfeed.runtime.services import Services

PROGRESS_TTL_S = 7 * 24 * 3600


def progress_key(clip_id: int | str) -> str:
    return f"media:progress:{clip_id}"


async def publish(*, services: Services, clip_id: int, stage: str, percent: float, status: str,
                  message: str = "") -> None:
    """What the media worker does for every step; the upload does it once at hand-off."""
    payload = contract.MediaProgress(clip_id=clip_id, stage=stage, percent=percent, status=status,
                                     message=message)
    now = utcnow()
    event = contract.MEDIA_PROGRESS.event(id=services.ids.next_id(), key=clip_id, payload=payload,
                                          occurred_at=now, region=services.settings.region)
    await services.cache.set(progress_key(clip_id), orjson.dumps({**event.payload, "updated_at": now.isoformat()}),
                             ttl=PROGRESS_TTL_S)
    await services.log.append(contract.MEDIA_PROGRESS.topic, event.encode(), key=event.key.encode())


async def cached(clip_id: int, *, services: Services) -> dict[str, Any] | None:
    raw = await services.cache.get(progress_key(clip_id))
    if raw is None:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
