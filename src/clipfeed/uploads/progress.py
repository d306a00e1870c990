"""Processing progress of a clip as its owner sees it: the database status merged with the
latest progress report of the media job (``clipfeed.media.progress``). Status changes arrive as
``clip.*`` events on topic ``clips``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import Clip, ClipStatus
from clipfeed.core import contract
from clipfeed.core.events import Event
from clipfeed.media.progress import cached
from clipfeed.runtime.services import Services
from clipfeed.uploads.models import ClipStatusPublic, Upload, UploadState

TERMINAL = {ClipStatus.ready.value, ClipStatus.rejected.value, ClipStatus.failed.value,
            ClipStatus.deleted.value}
# Where processing stops on its own: the terminal states, and ``review``, which waits for a
# moderator (hours, maybe), so a status stream or a waiting client has nothing more to follow.
SETTLED = TERMINAL | {ClipStatus.review.value}
QUEUED = "queued"
# Progress stages of a clip no media worker has picked up yet: the hand-off's first report.
NOT_STARTED = {QUEUED, "uploaded"}


async def upload_percent(clip_id: int, *, services: Services) -> float:
    async with services.db.session() as session:
        row = (await session.execute(sa.select(Upload.offset, Upload.length).where(
            Upload.clip_id == clip_id, Upload.state == UploadState.receiving.value).order_by(
            Upload.id.desc()).limit(1))).first()
    if row is None or not row.length:
        return 0.0
    return round(100.0 * row.offset / row.length, 1)


def _when(text: Any, fallback: datetime) -> datetime:
    if isinstance(text, str):
        try:
            return max(datetime.fromisoformat(text), fallback)
        except ValueError:
            return fallback
    return fallback


async def current(clip: Clip, *, services: Services) -> ClipStatusPublic:
    status = clip.status
    report = await cached(clip.id, services=services) if status != ClipStatus.uploading.value else None
    updated = clip.updated_at
    if status == ClipStatus.uploading.value:
        stage, percent = "uploading", await upload_percent(clip.id, services=services)
    elif status == ClipStatus.processing.value:
        stage = str(report.get("stage", QUEUED)) if report else QUEUED
        percent = float(report.get("percent", 0.0)) if report else 0.0
        updated = _when(report.get("updated_at"), updated) if report else updated
    else:
        stage, percent = status, 100.0
    position = None
    if status == ClipStatus.processing.value and stage in NOT_STARTED:
        stage, position = QUEUED, await queue_position(clip.id, services=services)
    return ClipStatusPublic(clip_id=str(clip.id), status=status, stage=stage, percent=percent,
                            reason=clip.status_reason, quality_flags=clips_service.quality_flags(clip),
                            queue_position=position, updated_at=updated)


async def queue_position(clip_id: int, *, services: Services) -> int:
    """Clips handed to the media workers before this one and not finished yet (IDs are time
    ordered, so a smaller ID was submitted earlier). The media queue is shared and roughly first
    in, first out: this is how many jobs stand before it, counting those already running."""
    async with services.db.session() as session:
        ahead = await session.scalar(sa.select(sa.func.count()).select_from(Clip).where(
            Clip.status == ClipStatus.processing.value, Clip.id < clip_id))
    return int(ahead or 0)


def apply_progress(state: ClipStatusPublic, event: Event) -> ClipStatusPublic:
    """The state after a ``media.progress`` event (ignored once the clip left processing)."""
    if state.status != ClipStatus.processing.value:
        return state
    try:
        payload = contract.MEDIA_PROGRESS.parse(event)
    except ValueError:
        return state
    percent, stage = payload.percent, payload.stage or state.stage
    started = stage not in NOT_STARTED
    return state.model_copy(update={"stage": stage if started else QUEUED,
                                    "queue_position": None if started else state.queue_position,
                                    "percent": max(0.0, min(100.0, percent)),
                                    "updated_at": max(event.occurred_at, state.updated_at)})
