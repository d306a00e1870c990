"""From a fully received upload to a clip in ``processing``, exactly once.

Steps, each safe to repeat (the caller holds the upload's lease):

1. **seal**: the bytes become one whole object (S3: the multipart upload is completed).
2. **validate** the assembled file (``validation.py``). A refusal records the reason in the row
   (state ``rejected``), then deletes every byte; the request answers 422 with the reason.
3. **place** it as ``clips/<clip id>/raw/master<ext>`` (local: a hard link; S3: a server-side
   copy, or an upload of the joined partials). The upload's own bytes stay until step 5.
4. **commit**, in ONE transaction: the clip gets its master and moves to ``processing`` (a new
   clip with the ID chosen at creation, or the creator's draft), the upload becomes
   ``complete``, and ``media.uploaded`` is written to the outbox. The request answers here.
5. **clean up**, in a background task of the services (``services.spawn``) so the final PATCH
   does not wait for it: the first progress report ("uploaded", 0 %), then removal of the bytes
   of the partial uploads, then of the upload's own.

A process killed before step 4 leaves the upload ``receiving`` with all its bytes: the next
HEAD or PATCH of the client, or the lifecycle sweep, runs ``finish`` again, which redoes steps
1–3 (they overwrite the same keys) and commits once. Killed after step 4 (or stopped while
step 5 runs, which ``Services.close`` cancels): the upload is ``complete`` and a retried final
PATCH answers success for the same clip; ``bytes_cleared`` stays false until step 5 ends, and
the lifecycle sweep removes the leftovers (``lifecycle.py``, step 3), the partials' included.
"""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
import structlog

from clipfeed.clips import service as clips_service
from clipfeed.core import contract
from clipfeed.core.errors import ClipfeedError, NotFound
from clipfeed.infra.blobs import check_key
from clipfeed.infra.db import utcnow
from clipfeed.instance import service as instance
from clipfeed.media import progress
from clipfeed.runtime.services import Services
from clipfeed.uploads import details as upload_details
from clipfeed.uploads import intake, validation
from clipfeed.uploads.metrics import UPLOADS
from clipfeed.uploads.models import Upload, UploadKind, UploadState
from clipfeed.uploads.partials import PartialStore, sha256_of

log = structlog.get_logger(__name__)


class UploadRejected(ClipfeedError):
    status, code, title = 422, "upload-rejected", "The file was not accepted"


async def load(upload_id: int, *, services: Services) -> Upload | None:
    async with services.db.session() as session:
        return await session.get(Upload, upload_id)


async def _update(upload_id: int, *, services: Services, **values: Any) -> None:
    async with services.db.session() as session:
        await session.execute(sa.update(Upload).where(Upload.id == upload_id).values(**values))


async def partials_of(row: Upload, *, services: Services) -> list[Upload]:
    if not row.partials:
        return []
    async with services.db.session() as session:
        found = {p.id: p for p in await session.scalars(sa.select(Upload).where(Upload.id.in_(row.partials)))}
    return [found[i] for i in row.partials if i in found]


async def clear_bytes(store: PartialStore, rows: list[Upload], *, services: Services) -> None:
    for row in rows:
        await store.remove(row)
        await _update(row.id, bytes_cleared=True, services=services)
        intake.forget(row.id)


async def reject(store: PartialStore, row: Upload, partials: list[Upload], reason: str,
                 *, services: Services) -> UploadRejected:
    """Record why, then keep nothing else; returns the error to raise."""
    await _update(row.id, state=UploadState.rejected.value, reason=reason, finished_at=utcnow(), services=services)
    await clear_bytes(store, [*partials, row], services=services)  # the upload last, as in _after_commit
    log.info("upload.rejected", upload_id=row.id, reason=reason)
    UPLOADS.labels("rejected").inc()
    return UploadRejected(reason, headers={"Upload-Offset": str(row.offset)})


async def finish(store: PartialStore, upload_id: int, *, services: Services) -> Upload:
    """Run (or resume) the hand-off of a fully received upload; ``UploadRejected`` if refused."""
    row = await load(upload_id, services=services)
    if row is None:
        raise NotFound(f"no upload {upload_id}")
    if row.state == UploadState.rejected.value:
        raise UploadRejected(row.reason or "the file was not accepted")
    if row.state != UploadState.receiving.value or not row.is_done_receiving:
        return row
    if row.kind == UploadKind.partial.value:
        storage = await store.seal(row)
        await _update(row.id, storage=storage, state=UploadState.complete.value, finished_at=utcnow(),
                      services=services)
        row.storage, row.state = storage, UploadState.complete.value
        return row
    partials = await partials_of(row, services=services)
    if len(partials) != len(row.partials) or any(p.bytes_cleared for p in partials):
        raise await reject(store, row, partials, "a partial upload of it was deleted or expired", services=services)
    if row.kind == UploadKind.single.value:
        row.storage = await store.seal(row)
        await _update(row.id, storage=row.storage, services=services)
    async with store.assembled(row, partials) as path:
        digest = intake.running_digest(row.id, row.length or 0)
        try:
            accepted = await validation.check(path, settings=await instance.effective(services=services))
        except validation.UnacceptableFile as exc:
            raise await reject(store, row, partials, exc.reason, services=services) from None
        if digest is None:
            digest = await asyncio.to_thread(sha256_of, path)
        master_key = check_key(f"clips/{row.clip_id}/raw/master{accepted.extension}")
        await store.place(row, path, master_key)
    try:
        done = await _commit(row, master_key, digest, accepted, services=services)
    except clips_service.DraftUnavailable as exc:
        await services.blobs.delete(master_key)
        raise await reject(store, row, partials, str(exc), services=services) from None
    services.spawn(_after_commit(store, row, partials, clip_id=int(done.clip_id or 0), services=services),
                   f"upload-{row.id}-clean-up")
    return done


async def _after_commit(store: PartialStore, row: Upload, partials: list[Upload], *, clip_id: int,
                        services: Services) -> None:
    """Step 5, once the request has answered."""
    try:
        await progress.publish(clip_id=clip_id, stage="uploaded", percent=0.0, status="processing",
                               message="upload complete; waiting for processing", services=services)
    except Exception as exc:  # progress is advisory; the status endpoint reads the database
        log.warning("upload.progress_publish_failed", upload_id=row.id, error=str(exc))
    try:
        # The final upload last: its bytes_cleared then means its partials' are gone too.
        await clear_bytes(store, [*partials, row], services=services)
    except Exception as exc:  # the lifecycle sweep removes what is left
        log.warning("upload.clean_up_failed", upload_id=row.id, error=str(exc))


async def _commit(row: Upload, master_key: str, digest: str, accepted: validation.Accepted,
                  *, services: Services) -> Upload:
    video = accepted.probe.main_video
    width, height = video.display_size if video else (None, None)
    technical = {"duration_ms": int(accepted.probe.duration * 1000), "width": width, "height": height}
    async with services.db.session() as session:
        fresh = await session.get(Upload, row.id, with_for_update=True)
        assert fresh is not None and fresh.clip_id is not None
        if fresh.state == UploadState.complete.value:
            return fresh  # a concurrent attempt committed first
        details = dict(fresh.details or {})
        await clips_service.start_processing(
            session, outbox=services.outbox, clip_id=fresh.clip_id, owner_id=fresh.owner_id,
            master_key=master_key, technical={k: v for k, v in technical.items() if v is not None},
            new_clip=None if fresh.attach_to_draft else upload_details.clip_request(details))
        fresh.state = UploadState.complete.value
        fresh.sha256 = digest
        fresh.finished_at = utcnow()
        services.outbox.record(session, contract.MEDIA_UPLOADED, key=fresh.clip_id,
                               actor_id=fresh.owner_id, payload=contract.MediaUploaded(
                                   clip_id=fresh.clip_id, owner_id=fresh.owner_id,
                                   master_key=master_key, filename=details.get("filename", "upload"),
                                   size=fresh.length, sha256=digest, edits=details.get("edits"),
                                   upload_id=str(fresh.id)))
    log.info("upload.handed_off", upload_id=row.id, clip_id=fresh.clip_id, size=fresh.length)
    UPLOADS.labels("handed_off").inc()
    return fresh
