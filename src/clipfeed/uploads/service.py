"""Upload use cases: create (tus creation, concatenation), append (PATCH), inspect, terminate.

Who may act: only signed-in users create uploads; every other call answers 404 unless the
upload is the caller's (an upload's existence is private). Write paths say what a kill does in
``intake.py`` (bytes) and ``handoff.py`` (clip creation); creation is one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from clipfeed.accounts.models import User
from clipfeed.clips.models import Clip, ClipStatus
from clipfeed.core.errors import BadRequest, Conflict, Gone, NotFound, PayloadTooLarge, RateLimited
from clipfeed.infra.db import utcnow
from clipfeed.instance import service as instance
from clipfeed.runtime.services import Services
from clipfeed.uploads import details as upload_details
from clipfeed.uploads import handoff, intake, lease
from clipfeed.uploads.models import Upload, UploadKind, UploadState
from clipfeed.uploads.partial_stores import open_partial_store
from clipfeed.uploads.partials import PartialStore
from clipfeed.uploads.protocol import (
    REASON_HEADER,
    STATE_HEADER,
    FinalUploadNotPatchable,
    Locked,
    ascii_header,
    parse_metadata,
)

T = TypeVar("T")
Chunks = AsyncIterator[bytes]


def store_for(*, services: Services) -> PartialStore:
    return open_partial_store(services.blobs, services.settings.data_dir.resolve() / "tmp" / "uploads")


def is_expired(row: Upload) -> bool:
    return row.state == UploadState.expired.value or (
        row.state == UploadState.receiving.value and row.expires_at <= utcnow())


def _gone(row: Upload) -> Gone:
    headers = {STATE_HEADER: row.state if not is_expired(row) else UploadState.expired.value}
    if row.reason:
        headers[REASON_HEADER] = ascii_header(row.reason)
    detail = (f"the upload was rejected: {row.reason}" if row.state == UploadState.rejected.value
              else "the upload expired; start a new one")
    return Gone(detail, headers=headers)


async def owned(*, services: Services, user_id: int, upload_id: int) -> Upload:
    row = await handoff.load(upload_id, services=services)
    if row is None or row.owner_id != user_id or row.state == UploadState.terminated.value:
        raise NotFound(f"no upload {upload_id}")
    return row


async def _check_quotas(session: Any, user_id: int, new_bytes: int, new_uploads: int,
                        *, services: Services) -> None:
    s = services.settings
    unfinished = await session.scalar(sa.select(sa.func.count()).select_from(Upload).where(
        Upload.owner_id == user_id, Upload.state == UploadState.receiving.value,
        Upload.kind != UploadKind.final.value))
    if new_uploads and unfinished + new_uploads > s.upload_max_concurrent:
        raise RateLimited(f"you have {unfinished} unfinished uploads; finish or delete one first "
                          f"(at most {s.upload_max_concurrent})", retry_after=60)
    since = utcnow() - timedelta(days=1)
    used = await session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Upload.length), 0)).where(
        Upload.owner_id == user_id, Upload.created_at > since, Upload.kind != UploadKind.final.value))
    if new_bytes and used + new_bytes > s.upload_daily_bytes:
        raise RateLimited(f"daily upload quota reached: {used} of {s.upload_daily_bytes} bytes used "
                          "in the last 24 hours", retry_after=3600)


async def _check_draft(session: Any, *, user_id: int, clip_id: int) -> None:
    clip = await session.get(Clip, clip_id, with_for_update=True)
    if clip is None or clip.owner_id != user_id or clip.status != ClipStatus.uploading.value:
        raise BadRequest(f"metadata 'clip_id': no draft clip {clip_id} of yours is waiting for a video")
    busy = await session.scalar(sa.select(Upload.id).where(
        Upload.clip_id == clip_id, Upload.state == UploadState.receiving.value).limit(1))
    if busy is not None:
        raise Conflict(f"upload {busy} is already sending the video of clip {clip_id}")


async def create(*, services: Services, user: User, length: int | None, defer: bool,
                 metadata_header: str | None, concat: tuple[str, list[int]] | None) -> Upload:
    """A new upload row (one transaction). A final upload is handed off by the caller."""
    s = services.settings
    max_bytes = (await instance.effective(services=services)).upload_max_bytes  # admins may override it
    await services.limiter.hit("upload-create", str(user.id), limit=s.upload_create_rate_per_hour,
                               per_seconds=3600)
    kind = UploadKind(concat[0]) if concat else UploadKind.single
    if kind == UploadKind.final and (length is not None or defer):
        raise BadRequest("a final upload takes its length from its partial uploads; send no Upload-Length")
    if kind != UploadKind.final and (length is None) == (not defer):
        raise BadRequest("send either Upload-Length or 'Upload-Defer-Length: 1'")
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(f"uploads are limited to {max_bytes} bytes (Tus-Max-Size)")
    values = parse_metadata(metadata_header)
    details = upload_details.validate(values) if kind != UploadKind.partial else {}
    now = utcnow()
    row = Upload(id=services.ids.next_id(), owner_id=user.id, kind=kind.value,
                 state=UploadState.receiving.value, length=length, offset=0,
                 metadata_header=(metadata_header or "").strip(), details=details, storage={},
                 partials=list(concat[1]) if concat else [],
                 created_at=now, expires_at=now + timedelta(seconds=s.upload_expiry_s))
    async with services.db.session() as session:
        if kind != UploadKind.partial:
            row.attach_to_draft = details.get("clip_id") is not None
            row.clip_id = details.get("clip_id") or services.ids.next_id()
            if row.attach_to_draft:
                await _check_draft(session, user_id=user.id, clip_id=row.clip_id)
        if kind == UploadKind.final:
            row.length = row.offset = await _claim_partials(session, row, user_id=user.id)
            if row.length > max_bytes:
                raise PayloadTooLarge(f"uploads are limited to {max_bytes} bytes (Tus-Max-Size)")
        await _check_quotas(session, user.id, new_bytes=0 if kind == UploadKind.final else (length or 0),
                            new_uploads=0 if kind == UploadKind.final else 1,
                            services=services)
        session.add(row)
    return row


async def _claim_partials(session: Any, row: Upload, *, user_id: int) -> int:
    """Each partial upload joins one final upload only; returns the total length."""
    found = {p.id: p for p in await session.scalars(sa.select(Upload).where(
        Upload.id.in_(row.partials)).with_for_update())}
    total = 0
    for partial_id in row.partials:
        partial = found.get(partial_id)
        if partial is None or partial.owner_id != user_id or partial.kind != UploadKind.partial.value:
            raise BadRequest(f"Upload-Concat: upload {partial_id} is not one of your partial uploads")
        if partial.state != UploadState.complete.value:
            raise BadRequest(f"Upload-Concat: partial upload {partial_id} is not finished "
                             "(concatenation of unfinished uploads is not supported)")
        if partial.clip_id is not None:
            raise BadRequest(f"Upload-Concat: partial upload {partial_id} already belongs to another upload")
        partial.clip_id = row.clip_id
        total += partial.length or 0
    return total


async def exclusively(upload_id: int, work: Callable[[str], Awaitable[T]], *, services: Services,
                      take_over: bool = True) -> T:
    """Run ``work(lease_token)`` in its own task holding the upload's lease. A newer request
    of the same client (``take_over``) cancels it; it then keeps what it durably stored."""
    s = services.settings

    async def run() -> T:
        token = await lease.acquire(services.db, upload_id, lease_s=s.upload_lease_s, take_over=take_over)
        current = asyncio.current_task()
        assert current is not None
        lease.hand_to(upload_id, token, current)
        try:
            return await work(token)
        finally:
            await asyncio.shield(lease.release(services.db, upload_id, token))

    task = asyncio.create_task(run())
    await asyncio.wait({task})
    if task.cancelled():
        raise Locked("a newer request took this upload over")
    return task.result()


async def write_initial(*, services: Services, row: Upload, chunks: Chunks,
                        checksum: tuple[str, bytes] | None) -> Upload:
    """creation-with-upload: the POST body is the first chunk."""

    async def work(token: str) -> Upload:
        await intake.receive(store_for(services=services), row=row, token=token, chunks=chunks, checksum=checksum,
                             services=services)
        return await finish_if_received(row.id, services=services)

    return await exclusively(row.id, work, services=services)


async def finish_if_received(upload_id: int, *, services: Services) -> Upload:
    row = await handoff.load(upload_id, services=services)
    if row is None:
        raise NotFound(f"no upload {upload_id}")
    if row.state == UploadState.receiving.value and row.is_done_receiving:
        return await handoff.finish(store_for(services=services), upload_id, services=services)
    return row


async def finish_final(row: Upload, *, services: Services) -> Upload:
    return await exclusively(row.id, lambda _token: finish_if_received(row.id, services=services), services=services)


async def append(*, services: Services, user: User, upload_id: int, offset: int, length: int | None,
                 content_length: int | None, checksum: tuple[str, bytes] | None, chunks: Chunks) -> Upload:
    """PATCH: append the body at ``offset``; the last byte triggers the hand-off."""
    s = services.settings
    row = await owned(user_id=user.id, upload_id=upload_id, services=services)
    if row.kind == UploadKind.final.value:
        raise FinalUploadNotPatchable("a final upload is assembled from its partial uploads; it takes no PATCH")
    await services.limiter.hit("upload-patch", str(user.id), limit=s.upload_patch_rate_per_minute, per_seconds=60)
    _check_writable(row, offset)
    if row.state == UploadState.complete.value:
        await _refuse_bytes_past_the_end(row, content_length, chunks)
        return row  # a repeated final PATCH: the hand-off happened once, report it again

    async def work(token: str) -> Upload:
        fresh = await owned(user_id=user.id, upload_id=upload_id, services=services)
        _check_writable(fresh, offset)
        if fresh.state == UploadState.complete.value:
            await _refuse_bytes_past_the_end(fresh, content_length, chunks)
            return fresh
        if length is not None:
            await _set_deferred_length(fresh, length, services=services)
        if offset != fresh.offset:
            raise Conflict(f"Upload-Offset is {offset} but the upload is at {fresh.offset}",
                           headers={"Upload-Offset": str(fresh.offset)})
        if fresh.length is not None and content_length is not None and offset + content_length > fresh.length:
            raise PayloadTooLarge(f"the chunk goes past Upload-Length ({fresh.length} bytes)")
        if not fresh.is_done_receiving:
            await intake.receive(store_for(services=services), row=fresh, token=token, chunks=chunks, checksum=checksum,
                                 services=services)
            if not fresh.is_done_receiving:
                return fresh  # ``receive`` keeps the row's offset current
        return await finish_if_received(upload_id, services=services)

    return await exclusively(upload_id, work, services=services)


async def _refuse_bytes_past_the_end(row: Upload, content_length: int | None, chunks: Chunks) -> None:
    """A finished upload takes no more bytes: any is past Upload-Length, as for one still
    receiving (a chunked body without Content-Length is read until its first byte)."""
    if content_length is None:
        async for chunk in chunks:
            if chunk:
                content_length = len(chunk)
                break
    if content_length:
        raise PayloadTooLarge(f"the chunk goes past Upload-Length ({row.length} bytes); the upload is complete")


def _check_writable(row: Upload, offset: int) -> None:
    if row.state == UploadState.rejected.value:
        raise handoff.UploadRejected(row.reason or "the file was not accepted")
    if is_expired(row):
        raise _gone(row)
    if row.state == UploadState.complete.value and offset != row.offset:
        raise Conflict(f"the upload is complete at {row.offset} bytes",
                       headers={"Upload-Offset": str(row.offset)})


async def _set_deferred_length(row: Upload, length: int, *, services: Services) -> None:
    if row.length is not None:
        if row.length != length:
            raise BadRequest(f"Upload-Length is already {row.length}; it cannot change")
        return
    max_bytes = (await instance.effective(services=services)).upload_max_bytes
    if length > max_bytes:
        raise PayloadTooLarge(f"uploads are limited to {max_bytes} bytes (Tus-Max-Size)")
    if length < row.offset:
        raise BadRequest(f"Upload-Length {length} is below the {row.offset} bytes already received")
    async with services.db.session() as session:
        await _check_quotas(session, row.owner_id, new_bytes=length, new_uploads=0, services=services)
        await session.execute(sa.update(Upload).where(Upload.id == row.id).values(length=length))
    row.length = length


async def inspect(*, services: Services, user: User, upload_id: int) -> Upload:
    """HEAD: the upload's state. One whose last byte arrived but whose hand-off was cut short
    (a killed process) is finished first, so the client learns the outcome."""
    row = await owned(user_id=user.id, upload_id=upload_id, services=services)
    if is_expired(row) or row.state == UploadState.rejected.value:
        raise _gone(row)
    if row.state == UploadState.receiving.value and row.is_done_receiving:
        try:
            row = await exclusively(upload_id, lambda _t: finish_if_received(upload_id, services=services),
                                    take_over=False,
                                    services=services)
        except handoff.UploadRejected:
            fresh = await owned(user_id=user.id, upload_id=upload_id, services=services)
            raise _gone(fresh) from None
    return row


async def terminate(*, services: Services, user: User, upload_id: int) -> None:
    """DELETE: an unfinished upload's bytes go (a running PATCH of it is stopped first); the
    record of a finished one goes too (its clip stays). Killed half-way: the row is marked
    ``terminated`` before any byte is removed, and the lifecycle sweep finishes the job."""
    row = await owned(user_id=user.id, upload_id=upload_id, services=services)

    async def work(_token: str) -> None:
        async with services.db.session() as session:
            await session.execute(sa.update(Upload).where(Upload.id == row.id).values(
                state=UploadState.terminated.value))
        await handoff.clear_bytes(store_for(services=services), [row], services=services)
        async with services.db.session() as session:
            await session.execute(sa.delete(Upload).where(Upload.id == row.id))

    await exclusively(upload_id, work, services=services)

