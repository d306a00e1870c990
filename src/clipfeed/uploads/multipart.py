"""Unfinished uploads on an object store without local paths (S3): multipart uploads.

Bytes go up in parts of exactly ``PART_SIZE`` (5 MiB, S3's minimum and our clients' default
chunk). What is left over after the last whole part (< 5 MiB) is kept durable as a small
*pending* blob, ``uploads/<id>/pending-<n>``, rewritten under a new name at each checkpoint
(the row names the current one; a superseded one is deleted after the row moved on), so a
restart loses no acknowledged byte. The row also lists the parts with their ETags: parts
uploaded after the last checkpoint are simply not listed, and the next request re-uploads
those part numbers (S3 replaces a part uploaded twice).

Sealing uploads the pending tail as the last part and completes the multipart upload into
``uploads/<id>/data``. A crash after S3 completed it but before the row said so is recognised
on the next attempt: the multipart upload is gone and the data blob has the full length.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from clipfeed.infra.blobs import BlobNotFound, BlobStore, PartInfo
from clipfeed.uploads.models import Upload
from clipfeed.uploads.partials import DataLost, RecordState, data_key, upload_prefix

PART_SIZE = 5 * 1024 * 1024


def _parts(state: dict[str, Any]) -> list[PartInfo]:
    return [PartInfo(number=n, size=size, etag=etag) for n, size, etag in state.get("parts", [])]


def _state(multipart: str | None, parts: list[PartInfo], pending: str | None, pending_size: int,
           sealed: bool = False) -> dict[str, Any]:
    return {"multipart": multipart, "parts": [[p.number, p.size, p.etag] for p in parts],
            "pending": pending, "pending_size": pending_size, "sealed": sealed}


class _MultipartWriter:
    def __init__(self, store: MultipartPartials, upload: Upload, pending: bytes,
                 record_state: RecordState | None) -> None:
        self.store = store
        self.upload_id = upload.id
        self.state = dict(upload.storage or {})
        self.multipart: str | None = self.state.get("multipart")
        self.parts = _parts(self.state)
        self.old_pending: str | None = self.state.get("pending")
        self._next_pending = self.old_pending
        self.recorded_parts = list(self.parts)
        self.buffer = bytearray(pending)
        self.durable = upload.offset
        self.written_pending: list[str] = []
        self.record_state = record_state

    @property
    def key(self) -> str:
        return data_key(self.upload_id)

    async def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= PART_SIZE:
            if self.multipart is None:
                self.multipart = await self.store.blobs.create_multipart(self.key)
                if self.record_state is not None:  # so an abandoned one can be aborted
                    await self.record_state({**self.state, "multipart": self.multipart})
            number = len(self.parts) + 1
            part = await self.store.blobs.upload_part(self.key, self.multipart, number,
                                                      bytes(self.buffer[:PART_SIZE]))
            self.parts.append(part)
            del self.buffer[:PART_SIZE]

    async def checkpoint(self) -> tuple[int, dict[str, Any]]:
        pending: str | None = None
        if self.buffer:
            pending = f"{upload_prefix(self.upload_id)}pending-{secrets.token_hex(6)}"
            await self.store.blobs.put(pending, bytes(self.buffer))
            self.written_pending.append(pending)
        self.durable = sum(p.size for p in self.parts) + len(self.buffer)
        self._next_pending = pending
        return self.durable, _state(self.multipart, self.parts, pending, len(self.buffer))

    async def recorded(self) -> None:
        superseded = [k for k in [self.old_pending, *self.written_pending]
                      if k is not None and k != self._next_pending]
        for key in superseded:
            await self.store.blobs.delete(key)
        self.old_pending = self._next_pending
        self.written_pending = []
        self.recorded_parts = list(self.parts)

    async def discard(self) -> None:
        for key in self.written_pending:
            await self.store.blobs.delete(key)
        self.written_pending = []
        self.parts = list(self.recorded_parts)
        self.buffer = bytearray()  # the request is over; nothing more is written

    async def close(self) -> None:
        self.buffer = bytearray()


class MultipartPartials:
    def __init__(self, blobs: BlobStore, scratch: Path) -> None:
        self.blobs = blobs
        self.scratch = scratch

    async def open(self, upload: Upload, *, record_state: RecordState | None = None) -> _MultipartWriter:
        state = dict(upload.storage or {})
        pending = b""
        if state.get("pending"):
            try:
                pending = await self.blobs.get(state["pending"])
            except BlobNotFound:
                raise DataLost(f"upload {upload.id} lost bytes it had acknowledged; start it again") from None
        if sum(p.size for p in _parts(state)) + len(pending) != upload.offset:
            raise DataLost(f"upload {upload.id} lost bytes it had acknowledged; start it again")
        return _MultipartWriter(self, upload, pending, record_state)

    async def seal(self, upload: Upload) -> dict[str, Any]:
        state = dict(upload.storage or {})
        if state.get("sealed"):
            return state
        parts = _parts(state)
        pending = await self.blobs.get(state["pending"]) if state.get("pending") else b""
        key = data_key(upload.id)
        multipart = state.get("multipart")
        if multipart is None:
            await self.blobs.put(key, pending)
        else:
            try:
                if pending:
                    parts.append(await self.blobs.upload_part(key, multipart, len(parts) + 1, pending))
                await self.blobs.complete_multipart(key, multipart, parts)
            except BlobNotFound:
                # Completed by an attempt that died before recording it: the blob is the proof.
                try:
                    info = await self.blobs.stat(key)
                except BlobNotFound:
                    raise DataLost(f"upload {upload.id} lost its stored parts; start it again") from None
                if info.size != upload.length:
                    raise DataLost(f"upload {upload.id} lost its stored parts; start it again") from None
        if state.get("pending"):
            await self.blobs.delete(state["pending"])
        return _state(multipart, parts, None, 0, sealed=True)

    @contextlib.asynccontextmanager
    async def assembled(self, upload: Upload, partials: list[Upload]) -> AsyncIterator[Path]:
        self.scratch.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.scratch, prefix=f"upload-{upload.id}-") as folder:
            path = Path(folder) / "assembled"
            with open(path, "wb") as writer:
                for source in partials or [upload]:
                    async for block in self.blobs.open_read(data_key(source.id), chunk_size=1024 * 1024):
                        await asyncio.to_thread(writer.write, block)
            yield path

    async def place(self, upload: Upload, assembled: Path, key: str) -> None:
        if upload.partials:
            await self.blobs.put_file(key, assembled)
        else:
            await self.blobs.copy(data_key(upload.id), key)  # server-side, no bytes through us

    async def remove(self, upload: Upload) -> None:
        state = dict(upload.storage or {})
        if state.get("multipart") and not state.get("sealed"):
            await self.blobs.abort_multipart(data_key(upload.id), state["multipart"])
        await self.blobs.delete_prefix(upload_prefix(upload.id))
