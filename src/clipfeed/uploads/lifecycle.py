"""The upload sweep (lifecycle role): expiry, interrupted hand-offs, leftovers, old records.

Each pass, idempotent and safe to run in several processes at once (every change to an
unfinished upload first takes its lease; a busy upload is skipped until the next pass):

1. unfinished uploads past ``expires_at``: bytes removed (local file, S3 multipart upload and
   pending blobs), the row kept as an ``expired`` record so the client gets 410, not 404;
2. uploads whose last byte arrived but whose hand-off a killed process left unfinished: finished;
3. finished, rejected, expired or terminated uploads whose bytes are not yet all gone (a
   hand-off whose clean-up, run after the final PATCH answered, did not end): removed, with
   the partial uploads a complete or rejected one joined;
4. records older than ``upload_record_ttl_s`` (and terminated ones once bare): deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from functools import partial

import sqlalchemy as sa
import structlog

from clipfeed.core.errors import ClipfeedError
from clipfeed.infra.db import utcnow
from clipfeed.runtime.services import Services
from clipfeed.uploads import handoff, service
from clipfeed.uploads.metrics import UPLOADS
from clipfeed.uploads.models import Upload, UploadKind, UploadState

log = structlog.get_logger(__name__)
BATCH = 200
# Partial uploads that no final upload has joined (yet) expire like unfinished ones.
_EXPIRABLE = {UploadState.receiving.value, UploadState.complete.value}
_UNFINISHED = sa.or_(Upload.state == UploadState.receiving.value,
                     sa.and_(Upload.kind == UploadKind.partial.value, Upload.state == UploadState.complete.value,
                             Upload.bytes_cleared.is_(False)))


async def _ids(*conditions: sa.ColumnElement[bool], services: Services) -> list[int]:
    async with services.db.session() as session:
        return list((await session.scalars(sa.select(Upload.id).where(*conditions).order_by(
            Upload.id).limit(BATCH))).all())


async def _expire(upload_id: int, _token: str, *, services: Services) -> None:
    row = await handoff.load(upload_id, services=services)
    if (row is None or row.state not in _EXPIRABLE or row.expires_at > utcnow()
            or (row.state == UploadState.complete.value and row.kind != UploadKind.partial.value)):
        return  # a PATCH extended it meanwhile
    async with services.db.session() as session:
        await session.execute(sa.update(Upload).where(Upload.id == upload_id).values(
            state=UploadState.expired.value, finished_at=utcnow()))
    await handoff.clear_bytes(service.store_for(services=services), [row], services=services)
    UPLOADS.labels("expired").inc()


async def _finish(upload_id: int, _token: str, *, services: Services) -> None:
    await service.finish_if_received(upload_id, services=services)


async def sweep(*, services: Services) -> dict[str, int]:
    """One pass; returns what it did (for logs and tests)."""
    now = utcnow()
    done = {"expired": 0, "finished": 0, "cleared": 0, "deleted": 0}
    lease_free = sa.or_(Upload.lease_owner.is_(None), Upload.lease_until < now)
    for upload_id in await _ids(_UNFINISHED, Upload.expires_at < now, lease_free, services=services):
        with contextlib.suppress(ClipfeedError):
            await service.exclusively(upload_id, partial(_expire, upload_id, services=services), take_over=False,
                                      services=services)
            done["expired"] += 1
    for upload_id in await _ids(Upload.state == UploadState.receiving.value, Upload.length.is_not(None),
                                Upload.offset >= Upload.length, lease_free, services=services):
        with contextlib.suppress(ClipfeedError):  # a rejection is an outcome too
            await service.exclusively(upload_id, partial(_finish, upload_id, services=services), take_over=False,
                                      services=services)
            done["finished"] += 1
    finished = [UploadState.complete.value, UploadState.rejected.value, UploadState.expired.value,
                UploadState.terminated.value]
    for upload_id in await _ids(Upload.state.in_(finished), Upload.bytes_cleared.is_(False),
                                Upload.kind != UploadKind.partial.value,
                                lease_free, services=services):
        row = await handoff.load(upload_id, services=services)
        if row is not None:
            # A hand-off that died before its clean-up also left the partials it joined.
            partials = (await handoff.partials_of(row, services=services)
                        if row.state in (UploadState.complete.value, UploadState.rejected.value) else [])
            await handoff.clear_bytes(service.store_for(services=services),
                                      [*(p for p in partials if not p.bytes_cleared), row], services=services)
            done["cleared"] += 1
    async with services.db.session() as session:
        result = await session.execute(sa.delete(Upload).where(sa.or_(
            sa.and_(Upload.state == UploadState.terminated.value, Upload.bytes_cleared.is_(True)),
            sa.and_(Upload.state.in_(finished), Upload.bytes_cleared.is_(True),
                    Upload.updated_at < now - timedelta(seconds=services.settings.upload_record_ttl_s)))))
        done["deleted"] = int(getattr(result, "rowcount", 0) or 0)
    return done


async def run(stop: asyncio.Event, *, services: Services) -> None:
    """The lifecycle loop: a sweep every ``upload_sweep_interval_s`` until ``stop``."""
    while not stop.is_set():
        try:
            done = await sweep(services=services)
            if any(done.values()):
                log.info("uploads.swept", **done)
        except Exception as exc:  # the next pass tries again
            log.warning("uploads.sweep_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), services.settings.upload_sweep_interval_s)

