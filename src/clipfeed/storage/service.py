"""Reads across tiers for the origin, and the bookkeeping of where a clip's parts live."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa
import structlog

from clipfeed.infra.blobs import BlobInfo, BlobNotFound, BlobStore
from clipfeed.infra.db import utcnow
from clipfeed.storage.models import Part, StoredPart, Tier, part_of
from clipfeed.storage.tiers import READ_ORDER, tier_stores

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)

# The origin remembers a clip's tier this long. A stale answer costs one extra stat: a missed
# object is looked for in the other tiers (a move deletes the source only after it commits).
TIER_MEMORY_S = 5.0
_tiers: dict[int, tuple[float, Tier]] = {}


@dataclass(frozen=True)
class Located:
    info: BlobInfo
    store: BlobStore
    tier: Tier


async def home_tier(*, services: Services, clip_id: int, part: Part = Part.media) -> Tier:
    """The tier reads of this part go to (hot when no row says otherwise)."""
    async with services.db.session() as session:
        tier = await session.scalar(sa.select(StoredPart.tier).where(
            StoredPart.clip_id == clip_id, StoredPart.part == part.value))
    return Tier(tier or Tier.hot.value)


async def locate(*, services: Services, clip_id: int, key: str) -> Located:
    """The object ``key`` of clip ``clip_id`` in whichever tier holds it; ``BlobNotFound`` if
    none does. Reading from the cold tier asks the lifecycle job to restore the clip."""
    stores = tier_stores(services=services)
    part = part_of(key)
    remembered = _tiers.get(clip_id) if part is Part.media else None
    if remembered and remembered[0] > time.monotonic():
        home = remembered[1]
    else:
        home = await home_tier(services=services, clip_id=clip_id, part=part)
        if part is Part.media:
            if len(_tiers) > 50_000:
                _tiers.clear()
            _tiers[clip_id] = (time.monotonic() + TIER_MEMORY_S, home)
    for tier in (home, *(t for t in READ_ORDER if t is not home)):
        store = stores.of(tier)
        try:
            info = await store.stat(key)
        except BlobNotFound:
            continue
        if tier is Tier.cold and part is Part.media:
            await request_restore(services=services, clip_id=clip_id)
        return Located(info=info, store=store, tier=tier)
    raise BlobNotFound(key)


def forget_tier(clip_id: int) -> None:
    _tiers.pop(clip_id, None)


async def request_restore(*, services: Services, clip_id: int) -> None:
    """Mark the clip for a move back to hot (done by the lifecycle job); idempotent."""
    async with services.db.session() as session:
        result = await session.execute(
            sa.update(StoredPart).where(StoredPart.clip_id == clip_id,
                                        StoredPart.part == Part.media.value,
                                        StoredPart.restore_requested_at.is_(None))
            .values(restore_requested_at=utcnow()))
    if getattr(result, "rowcount", 0):
        log.info("storage.restore_requested", clip_id=clip_id)


async def parts_of(*, services: Services, clip_id: int) -> dict[Part, StoredPart]:
    async with services.db.session() as session:
        rows = await session.scalars(sa.select(StoredPart).where(StoredPart.clip_id == clip_id))
        return {Part(row.part): row for row in rows}
