"""Copy-verify-delete moves of a clip part between tiers, and the repair that finishes any move
a killed process left behind.

A move runs in four steps, each safe to be killed after:

1. ``moving_to`` is recorded on the part's row (reads still go to the old tier);
2. every object is copied to the new tier and verified: the SHA-256 of the bytes read back from
   the new tier must equal that of the bytes read from the old one (an object already there
   with the same digest is not copied again, which makes a resumed move cheap);
3. the row switches to the new tier in one transaction (reads go there from now on);
4. the old tier's copies are deleted.

Killed in 1–2, the old tier still holds everything and the row still points at it: repair
resumes the move. Killed in 3–4, the new tier holds everything: repair deletes the leftovers.
Repair also treats any object found outside its part's home tier the same way (deleted when the
home tier holds the same bytes, moved home when it is the only or newer copy), so no object is
ever lost and none stays duplicated.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
import structlog

from clipfeed.infra.blobs import BlobInfo, BlobNotFound, BlobStore
from clipfeed.storage.models import Part, StoredPart, Tier, part_of, part_prefix
from clipfeed.storage.tiers import tier_stores

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)


class VerifyFailed(RuntimeError):
    pass


@dataclass
class MoveOutcome:
    copied: int = 0
    skipped: int = 0
    deleted: int = 0
    bytes: int = 0


async def digest(store: BlobStore, key: str) -> str:
    hasher = hashlib.sha256()
    async for chunk in store.open_read(key, chunk_size=1024 * 1024):
        hasher.update(chunk)
    return hasher.hexdigest()


async def copy_verified(source: BlobStore, target: BlobStore, info: BlobInfo) -> bool:
    """Make ``target`` hold the same bytes as ``source`` under ``info.key``; True if copied."""
    wanted = await digest(source, info.key)
    try:
        if (await target.stat(info.key)).size == info.size and await digest(target, info.key) == wanted:
            return False
    except BlobNotFound:
        pass

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in source.open_read(info.key, chunk_size=1024 * 1024):
            yield chunk

    await target.put(info.key, chunks(), content_type=info.content_type or await _type_of(source, info.key))
    if await digest(target, info.key) != wanted:
        await target.delete(info.key)
        raise VerifyFailed(f"{info.key}: the copy's bytes differ from the source")
    return True


async def _type_of(store: BlobStore, key: str) -> str | None:
    return (await store.stat(key)).content_type


async def part_objects(store: BlobStore, clip_id: int, part: Part) -> list[BlobInfo]:
    return [info async for info in store.list(part_prefix(clip_id, part)) if part_of(info.key) is part]


def dropped_key(key: str, dropped: list[str], clip_id: int) -> bool:
    return any(key.startswith(f"clips/{clip_id}/v/{name}/") for name in dropped)


async def begin(clip_id: int, part: Part, target: Tier, *, services: Services) -> StoredPart:
    """Step 1: record the intent (creating the row of a part never moved before)."""
    async with services.db.session() as session:
        row = await session.get(StoredPart, (clip_id, part.value), with_for_update=True)
        if row is None:
            row = StoredPart(clip_id=clip_id, part=part.value, prefix=part_prefix(clip_id, part), tier=Tier.hot.value,
                             dropped=[], dropped_bytes=0, objects=0, bytes=0, views_per_day=0.0)
            session.add(row)
        row.moving_to = target.value
        await session.flush()
        session.expunge(row)
    return row


async def move(*, services: Services, clip_id: int, part: Part, target: Tier, now: datetime,
               drop: list[str] | None = None,
               rewrite: dict[str, bytes] | None = None) -> MoveOutcome:
    """Move a part to ``target``; objects of renditions in ``drop`` are not copied (they are
    deleted with the source), and ``rewrite`` gives new bytes for some keys in the target (the
    cold tier's manifests without the dropped renditions)."""
    row = await begin(clip_id, part, target, services=services)
    return await finish(row=row, now=now, drop=drop or [], rewrite=rewrite or {}, services=services)


async def finish(*, services: Services, row: StoredPart, now: datetime, drop: list[str],
                 rewrite: dict[str, bytes]) -> MoveOutcome:
    """Steps 2–4 of a move whose intent is recorded (also how repair resumes one)."""
    stores = tier_stores(services=services)
    clip_id, part = row.clip_id, Part(row.part)
    source, target = Tier(row.tier), Tier(row.moving_to or row.tier)
    outcome = MoveOutcome()
    # Renditions stay "dropped" through later moves until the media worker re-creates them.
    dropped = sorted({*(row.dropped or []), *drop})
    if source is not target:
        kept_bytes = dropped_bytes = objects = 0
        for info in await part_objects(stores.of(source), clip_id, part):
            if dropped_key(info.key, dropped, clip_id):
                dropped_bytes += info.size
                continue
            if info.key in rewrite:
                continue
            copied = await copy_verified(stores.of(source), stores.of(target), info)
            outcome.copied += copied
            outcome.skipped += not copied
            kept_bytes += info.size
            objects += 1
        for key, data in rewrite.items():
            await stores.of(target).put(key, data, content_type=_rewrite_type(key))
            kept_bytes += len(data)
            objects += 1
        outcome.bytes = kept_bytes
        async with services.db.session() as session:  # step 3: reads switch over
            current = await session.get(StoredPart, (clip_id, part.value), with_for_update=True)
            assert current is not None
            current.tier, current.moving_to, current.since = target.value, None, now
            current.objects, current.bytes = objects, kept_bytes
            current.dropped = dropped
            current.dropped_bytes = (current.dropped_bytes or 0) + dropped_bytes
            if target is Tier.hot:
                current.restore_requested_at = None
    outcome.deleted = await _delete_outside_home(clip_id, part, target, services=services)
    log.info("storage.moved", clip_id=clip_id, part=part.value, source=source.value, target=target.value,
             copied=outcome.copied, skipped=outcome.skipped, deleted=outcome.deleted, dropped=dropped)
    return outcome


def _rewrite_type(key: str) -> str:
    return "application/dash+xml" if key.endswith(".mpd") else "application/vnd.apple.mpegurl"


async def _delete_outside_home(clip_id: int, part: Part, home: Tier, *, services: Services) -> int:
    """Step 4 (and repair): settle every copy of the part found outside its home tier."""
    stores = tier_stores(services=services)
    async with services.db.session() as session:
        row = await session.get(StoredPart, (clip_id, part.value))
        dropped = list(row.dropped or []) if row else []
    deleted = 0
    for tier in Tier:
        if tier is home:
            continue
        for info in await part_objects(stores.of(tier), clip_id, part):
            if not dropped_key(info.key, dropped, clip_id):
                try:
                    here = await stores.of(home).stat(info.key)
                    # A verified copy is always written after its source, so the home copy wins
                    # unless someone wrote the key outside its home later (then that one does).
                    keep_home = here.modified >= info.modified
                except BlobNotFound:
                    keep_home = False
                if not keep_home:  # the only (or newer) copy: bring it home first
                    await copy_verified(stores.of(tier), stores.of(home), info)
            await stores.of(tier).delete(info.key)
            deleted += 1
    return deleted


async def repair(*, services: Services, now: datetime) -> dict[str, int]:
    """Finish interrupted moves and settle stray copies; safe to run at any time."""
    async with services.db.session() as session:
        pending = list(await session.scalars(sa.select(StoredPart).where(StoredPart.moving_to.is_not(None))))
        homes = {(r.clip_id, r.part): Tier(r.tier) for r in await session.scalars(sa.select(StoredPart))}
    resumed = 0
    for row in pending:
        await finish(row=row, now=now, drop=[], rewrite={}, services=services)
        resumed += 1
        homes[(row.clip_id, row.part)] = Tier(row.moving_to or row.tier)
    stores = tier_stores(services=services)
    strays: set[tuple[int, Part]] = set()
    for tier in (Tier.warm, Tier.cold, Tier.hot):
        async for info in stores.of(tier).list("clips/"):
            clip_id = int(info.key.split("/")[1]) if info.key.split("/")[1].isdigit() else None
            if clip_id is None:
                continue
            part = part_of(info.key)
            if homes.get((clip_id, part.value), Tier.hot) is not tier:
                strays.add((clip_id, part))
    settled = 0
    for clip_id, part in sorted(strays):
        settled += await _delete_outside_home(clip_id, part, homes.get((clip_id, part.value), Tier.hot),
                                              services=services)
    return {"resumed": resumed, "settled": settled}
