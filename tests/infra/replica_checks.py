"""What the read replica tests share: the reads metric, a ready clip, a page marked stale."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY


def reads(target: str, reason: str, database: str = "main") -> float:
    """``clipfeed_db_reads_total`` of one database (``main``, ``shard0``, ...), target and reason."""
    labels = {"database": database, "target": target, "reason": reason}
    return REGISTRY.get_sample_value("clipfeed_db_reads_total", labels) or 0.0


async def ready_clip(client: httpx.AsyncClient, owner_id: int, caption: str = "seen through a cut") -> int:
    from clipfeed.clips import service as clips
    from clipfeed.clips.models import ClipCreate, ClipStatus

    services = client.services  # type: ignore[attr-defined]
    clip = await clips.create_draft(db=services.db, outbox=services.outbox, ids=services.ids,
                                    owner_id=owner_id, request=ClipCreate(caption=caption))
    await clips.set_status(db=services.db, outbox=services.outbox, clip_id=clip.id, status=ClipStatus.ready)
    return int(clip.id)


def stale(response: httpx.Response) -> httpx.Response:
    """A 200 marked as served by a replica while the primary does not answer."""
    assert response.status_code == 200, response.text
    assert response.headers.get("clipfeed-stale", "").startswith("primary-unreachable;up-to="), response.headers
    return response
