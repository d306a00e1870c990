"""Lifecycle policy: which tier each clip part should be in, and the moves that get it there.

Evaluated per clip on every run (``CLIPFEED_LIFECYCLE_INTERVAL_S``, or ``clipfeed storage
lifecycle``), with ``now`` passed in so tests run it under a simulated clock:

| from | to | when |
|---|---|---|
| hot | warm | in hot for ``storage_hot_days`` (7) and under ``storage_warm_below_views_per_day`` (10) |
| warm | cold | published ``storage_cold_days`` (60) ago and under ``storage_cold_below_views_per_day`` (1) |
| warm, cold | hot | at least ``storage_promote_views_per_day`` (50), or someone read it from cold |
| raw master: hot | cold | ``storage_raw_cold_days`` (1) after publishing (it is only read to re-transcode) |

Going cold keeps the lowest H.264 rendition, the sound track, the manifests (rewritten to list
only what is kept), the images and the progressive fallback; the other renditions are
deleted. When a cold clip turns popular again it goes back to hot and a ``media.retranscode``
job asks the media worker to re-create them. Views per day come from the stream counters: the
difference of a clip's total views between two runs, divided by the days between them.

Deleted clips lose their objects in every tier and in the replica (the clips feature removes
the hot ones at once; this sweep catches the rest, and any left by a crash).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
import structlog

from clipfeed.clips.models import Clip, ClipStatus
from clipfeed.core import contract
from clipfeed.delivery import purge as delivery_purge
from clipfeed.delivery.models import Urgency
from clipfeed.infra.blobs import BlobNotFound
from clipfeed.storage import manifests, moves
from clipfeed.storage.layout import forget_layout, parse_master
from clipfeed.storage.models import Part, StoredPart, Tier, part_prefix
from clipfeed.storage.service import forget_tier
from clipfeed.storage.tiers import tier_stores

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
ViewsSource = Callable[[list[int]], Awaitable[dict[int, int]]]
BATCH = 500
MIN_RATE_WINDOW = timedelta(hours=1)


@dataclass
class LifecycleReport:
    moves: dict[str, int] = field(default_factory=dict)
    retranscodes: int = 0
    swept: int = 0
    repaired: dict[str, int] = field(default_factory=dict)

    def count(self, source: Tier, target: Tier, part: Part) -> None:
        name = f"{part.value}:{source.value}->{target.value}"
        self.moves[name] = self.moves.get(name, 0) + 1


def stream_views(*, services: Services) -> ViewsSource:
    async def views(clip_ids: list[int]) -> dict[int, int]:
        from clipfeed.stream.counters import get_clip_counts

        counts = await get_clip_counts(services=services, clip_ids=clip_ids)
        return {clip_id: int(c.views) for clip_id, c in counts.items()}

    return views


async def run(*, services: Services, now: datetime, views: ViewsSource | None = None) -> LifecycleReport:
    report = LifecycleReport(repaired=await moves.repair(now=now, services=services))
    views = views or stream_views(services=services)
    after = 0
    while True:
        async with services.db.session() as session:
            clips = list(await session.scalars(sa.select(Clip).where(Clip.id > after).order_by(Clip.id).limit(BATCH)))
        if not clips:
            break
        after = clips[-1].id
        live = [c for c in clips if c.status == ClipStatus.ready.value and c.published_at is not None]
        totals = await views([c.id for c in live]) if live else {}
        async with services.db.session() as session:
            tracked = set(await session.scalars(sa.select(StoredPart.clip_id).where(
                StoredPart.clip_id.in_([c.id for c in clips]))))
        for clip in clips:
            if clip.status == ClipStatus.deleted.value:
                if clip.id in tracked:  # untracked ones never left hot, which the clips feature empties
                    report.swept += await _sweep(clip.id, services=services)
            elif clip in live:
                await _evaluate(clip, now=now, total=totals.get(clip.id, 0), report=report, services=services)
    return report


async def _rows(clip_id: int, now: datetime, *, services: Services) -> dict[Part, StoredPart]:
    async with services.db.session() as session:
        rows = {Part(r.part): r for r in await session.scalars(sa.select(StoredPart).where(
            StoredPart.clip_id == clip_id))}
        for part in Part:
            if part not in rows:
                rows[part] = StoredPart(clip_id=clip_id, part=part.value, prefix=part_prefix(clip_id, part),
                                        tier=Tier.hot.value, since=now, dropped=[], dropped_bytes=0,
                                        objects=0, bytes=0, views_per_day=0.0)
                session.add(rows[part])
        await session.flush()
        session.expunge_all()
    return rows


async def _observe_views(row: StoredPart, total: int, now: datetime, *, services: Services) -> float:
    """Views per day since the previous observation (kept when the window is too short)."""
    rate = row.views_per_day or 0.0
    if row.views_total is not None and row.views_at is not None and now - row.views_at >= MIN_RATE_WINDOW:
        rate = max(0, total - row.views_total) / ((now - row.views_at).total_seconds() / 86400)
    elif row.views_total is not None and row.views_at is not None:
        return rate
    async with services.db.session() as session:
        await session.execute(sa.update(StoredPart).where(
            StoredPart.clip_id == row.clip_id, StoredPart.part == Part.media.value).values(
            views_total=total, views_at=now, views_per_day=rate))
    return rate


async def _evaluate(clip: Clip, *, services: Services, now: datetime, total: int, report: LifecycleReport) -> None:
    settings = services.settings
    rows = await _rows(clip.id, now, services=services)
    media, raw = rows[Part.media], rows[Part.raw]
    rate = await _observe_views(media, total, now, services=services)
    tier = Tier(media.tier)
    age = now - (clip.published_at or now)
    target: Tier | None = None
    if tier is not Tier.hot and (rate >= settings.storage_promote_views_per_day or media.restore_requested_at):
        target = Tier.hot
    elif tier is Tier.hot and now - media.since >= timedelta(days=settings.storage_hot_days) \
            and rate < settings.storage_warm_below_views_per_day:
        target = Tier.warm
    elif tier is Tier.warm and age >= timedelta(days=settings.storage_cold_days) \
            and rate < settings.storage_cold_below_views_per_day:
        target = Tier.cold
    if target is Tier.cold:
        await _go_cold(clip, now=now, services=services)
    elif target is not None:
        await moves.move(clip_id=clip.id, part=Part.media, target=target, now=now, services=services)
    if target is not None:
        report.count(tier, target, Part.media)
        forget_tier(clip.id)
        await forget_layout(services=services, clip_id=clip.id)
    if tier is Tier.hot and media.dropped and await renditions_back(clip.id, services=services):
        # The media worker wrote full manifests again: edges must stop serving the reduced ones.
        await forget_layout(services=services, clip_id=clip.id)
        await delivery_purge.purge(services=services, prefixes=[f"clips/{clip.id}/"], urgency=Urgency.soon,
                                   reason="renditions re-created")
    popular = rate >= settings.storage_promote_views_per_day
    if Tier.hot in (tier, target) and media.dropped and popular \
            and await services.cache.add(f"storage:retranscode:{clip.id}", b"1", ttl=86400):
        await _ask_retranscode(clip, list(media.dropped), services=services)
        report.retranscodes += 1
    if Tier(raw.tier) is Tier.hot and age >= timedelta(days=settings.storage_raw_cold_days):
        await moves.move(clip_id=clip.id, part=Part.raw, target=Tier.cold, now=now, services=services)
        report.count(Tier.hot, Tier.cold, Part.raw)


async def _go_cold(clip: Clip, *, services: Services, now: datetime) -> None:
    """Warm -> cold without the renditions the cold tier does not keep."""
    source = tier_stores(services=services).of(Tier.warm)
    base = f"clips/{clip.id}/"
    rewrite: dict[str, bytes] = {}
    dropped: list[str] = []
    try:
        master = (await source.get(base + "hls/master.m3u8")).decode()
        dropped = manifests.renditions_to_drop(master, base + "hls/master.m3u8")
        rewrite[base + "hls/master.m3u8"] = manifests.reduce_master(master, dropped).encode()
        try:
            mpd = (await source.get(base + "dash/manifest.mpd")).decode()
            rewrite[base + "dash/manifest.mpd"] = manifests.reduce_mpd(mpd, dropped).encode()
        except BlobNotFound:
            pass
    except BlobNotFound:
        pass  # no ladder (or a move already under way): keep everything
    await moves.move(clip_id=clip.id, part=Part.media, target=Tier.cold, now=now, drop=dropped, rewrite=rewrite,
                     services=services)
    if dropped:  # edges may hold manifests listing renditions that are gone
        await delivery_purge.purge(services=services, prefixes=[base], urgency=Urgency.soon, reason="cold tier")


async def _ask_retranscode(clip: Clip, renditions: list[str], *, services: Services) -> None:
    async with services.db.session() as session:
        services.outbox.record(session, contract.MEDIA_RETRANSCODE, key=clip.id,
                               payload=contract.MediaRetranscode(clip_id=clip.id, renditions=renditions,
                                                                 master_prefix=part_prefix(clip.id, Part.raw)))
    log.info("storage.retranscode_requested", clip_id=clip.id, renditions=renditions)


async def _sweep(clip_id: int, *, services: Services) -> int:
    """Remove every object of a deleted clip from every tier and the replica."""
    stores = tier_stores(services=services)
    removed = 0
    for store in (stores.hot, stores.warm, stores.cold, stores.replica):
        if store is not None:
            removed += await store.delete_prefix(f"clips/{clip_id}/")
    async with services.db.session() as session:
        await session.execute(sa.delete(StoredPart).where(StoredPart.clip_id == clip_id))
    return removed


async def renditions_back(clip_id: int, *, services: Services) -> bool:
    """Once the media worker has re-created a cold clip's renditions in hot, forget they were
    dropped (``True`` when that happened)."""
    async with services.db.session() as session:
        row = await session.get(StoredPart, (clip_id, Part.media.value), with_for_update=True)
        if row is None or not row.dropped or Tier(row.tier) is not Tier.hot:
            return False
        # The re-transcode job writes the master playlist last: only renditions it lists are
        # complete (objects under ``v/<name>/`` alone may be an upload in progress).
        master = f"clips/{clip_id}/hls/master.m3u8"
        try:
            text = (await tier_stores(services=services).hot.get(master)).decode("utf-8", "replace")
        except BlobNotFound:
            return False
        listed = {r.name for r in parse_master(text, master)[0]}
        if not set(row.dropped) <= listed:
            return False
        row.dropped, row.dropped_bytes = [], 0
    return True



async def restore_requested(*, services: Services, now: datetime) -> int:
    """Move back to hot the clips someone read from the cold tier (between full runs)."""
    async with services.db.session() as session:
        rows = list(await session.scalars(sa.select(StoredPart).where(
            StoredPart.restore_requested_at.is_not(None), StoredPart.part == Part.media.value,
            StoredPart.moving_to.is_(None))))
    for row in rows:
        if Tier(row.tier) is not Tier.hot:
            await moves.move(clip_id=row.clip_id, part=Part.media, target=Tier.hot, now=now, services=services)
            forget_tier(row.clip_id)
            await forget_layout(services=services, clip_id=row.clip_id)
        else:
            async with services.db.session() as session:
                await session.execute(sa.update(StoredPart).where(
                    StoredPart.clip_id == row.clip_id, StoredPart.part == Part.media.value).values(
                    restore_requested_at=None))
    return len(rows)
