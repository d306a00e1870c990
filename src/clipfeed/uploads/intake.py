"""Receiving the bytes of one PATCH (or of a POST with creation-with-upload).

The body is read in batches of ``BATCH`` bytes; while one batch is hashed and written (in worker
threads, which release the GIL) the next is being received, so memory stays at two batches
whatever the chunk size, and hashing costs no extra pass over the data.

Durability: without ``Upload-Checksum`` the offset is recorded every ``upload_checkpoint_bytes``
and at the end, each time only after the writer made the bytes durable; a request cut off (or
taken over by the client's newer request) keeps what it received, as tus asks. With a checksum
nothing is recorded until the whole chunk is verified; a mismatch discards it (460).
Killed half-way: the bytes after the last recorded offset are dropped when the upload is next
opened, and the client resumes from the offset HEAD reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from starlette.requests import ClientDisconnect

from clipfeed.core.errors import PayloadTooLarge
from clipfeed.infra.db import utcnow
from clipfeed.runtime.services import Services
from clipfeed.uploads import lease
from clipfeed.uploads.metrics import UPLOAD_BYTES
from clipfeed.uploads.models import Upload, UploadState
from clipfeed.uploads.partials import PartialStore, Writer
from clipfeed.uploads.protocol import ChecksumMismatch, Locked

BATCH = 1024 * 1024
# The SHA-256 of each upload's bytes so far, for uploads this process is receiving: a client
# that stays with one process never has its file read back to hash it.
_RUNNING: OrderedDict[int, tuple[int, Any]] = OrderedDict()
_RUNNING_MAX = 10_000


def running_digest(upload_id: int, length: int) -> str | None:
    entry = _RUNNING.get(upload_id)
    return entry[1].hexdigest() if entry is not None and entry[0] == length else None


def forget(upload_id: int) -> None:
    _RUNNING.pop(upload_id, None)


class _Intake:
    def __init__(self, services: Services, writer: Writer, row: Upload, token: str,
                 checksum: tuple[str, bytes] | None) -> None:
        self.services = services
        self.settings = services.settings
        self.writer = writer
        self.row = row
        self.token = token
        self.checksum = checksum
        self.check = hashlib.new(checksum[0]) if checksum else None
        entry = _RUNNING.get(row.id)
        self.whole = entry[1].copy() if entry and entry[0] == row.offset else (
            hashlib.sha256() if row.offset == 0 else None)
        self.whole_at_checkpoint = self.whole.copy() if self.whole is not None else None
        self.recorded = row.offset
        self.written = row.offset
        self.renewed = time.monotonic()

    async def _write(self, data: bytes) -> None:
        await self._keep_lease()

        def digest() -> None:
            if self.whole is not None:
                self.whole.update(data)
            if self.check is not None:
                self.check.update(data)

        await asyncio.gather(asyncio.to_thread(digest), self.writer.write(data))
        self.written += len(data)
        if self.check is None and self.written - self.recorded >= self.settings.upload_checkpoint_bytes:
            await self._record()

    async def _keep_lease(self) -> None:
        if time.monotonic() - self.renewed < self.settings.upload_lease_s / 3:
            return
        if not await lease.renew(self.services.db, self.row.id, self.token, lease_s=self.settings.upload_lease_s):
            raise Locked("a newer request took this upload over")
        self.renewed = time.monotonic()

    async def _record(self) -> None:
        """Make what was written durable, then (only then) record the new offset."""
        offset, state = await self.writer.checkpoint()
        await _save(self.row, self.token, offset=offset, storage=state, services=self.services)
        UPLOAD_BYTES.inc(offset - self.recorded)
        await self.writer.recorded()
        self.recorded = offset
        if self.whole is not None:
            self.whole_at_checkpoint = self.whole.copy()
            _RUNNING[self.row.id] = (offset, self.whole_at_checkpoint.copy())
            _RUNNING.move_to_end(self.row.id)
            while len(_RUNNING) > _RUNNING_MAX:
                _RUNNING.popitem(last=False)

    async def _discard(self) -> None:
        with contextlib.suppress(Exception):
            await self.writer.discard()
        self.whole = self.whole_at_checkpoint
        self.written = self.recorded

    async def run(self, chunks: AsyncIterator[bytes]) -> int:
        length = self.row.length
        buffer = bytearray()
        pending: asyncio.Task[None] | None = None
        keep = False  # on an early end: record what arrived (no checksum) or drop it
        try:
            async for piece in chunks:
                if length is not None and self.written + len(buffer) + len(piece) > length:
                    raise PayloadTooLarge(f"the chunk goes past Upload-Length ({length} bytes)")
                buffer += piece
                if len(buffer) >= BATCH:
                    if pending is not None:
                        await pending
                    data, buffer = bytes(buffer), bytearray()
                    pending = asyncio.create_task(self._write(data))
            keep = True
        except (ClientDisconnect, asyncio.CancelledError):
            keep = self.check is None
            if not keep:
                await self._finish_pending(pending)
                await self._discard()
                raise
            await self._finish_pending(pending)
            if buffer:
                await self._write(bytes(buffer))
            await self._record()
            raise
        except BaseException:
            await self._finish_pending(pending)
            await self._discard()
            raise
        try:
            if pending is not None:
                await pending
            if buffer:
                await self._write(bytes(buffer))
            if self.check is not None and self.checksum is not None and self.check.digest() != self.checksum[1]:
                await self._discard()
                raise ChecksumMismatch(f"the {self.checksum[0]} of the chunk does not match Upload-Checksum; "
                                       "it was discarded, send it again")
        except ChecksumMismatch:
            raise
        except BaseException:
            await self._discard()
            raise
        await self._record()
        return self.recorded

    @staticmethod
    async def _finish_pending(pending: asyncio.Task[None] | None) -> None:
        if pending is not None:
            with contextlib.suppress(BaseException):
                await pending


async def _save(row: Upload, token: str, *, services: Services, offset: int, storage: dict[str, Any]) -> None:
    """Record a durable offset (while we still hold the lease); partials finish here."""
    now = utcnow()
    values: dict[str, Any] = {"offset": offset, "storage": storage,
                              "expires_at": now + timedelta(seconds=services.settings.upload_expiry_s),
                              "lease_until": now + timedelta(seconds=services.settings.upload_lease_s)}
    async with services.db.session() as session:
        result = await session.execute(sa.update(Upload).where(
            Upload.id == row.id, Upload.lease_owner == token,
            Upload.state == UploadState.receiving.value).values(**values))
    if getattr(result, "rowcount", 0) != 1:
        raise Locked("a newer request took this upload over")
    row.offset, row.storage = offset, storage


async def receive(store: PartialStore, *, services: Services, row: Upload, token: str,
                  chunks: AsyncIterator[bytes], checksum: tuple[str, bytes] | None) -> int:
    """Append the request body at ``row.offset``; the caller holds the lease."""

    async def record_state(state: dict[str, Any]) -> None:
        await _save(row, token, offset=row.offset, storage=state, services=services)

    writer = await store.open(row, record_state=record_state)
    try:
        return await _Intake(services, writer, row, token, checksum).run(chunks)
    finally:
        await writer.close()

