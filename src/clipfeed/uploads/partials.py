"""Where the bytes of unfinished uploads live, through the object-store port.

Two adapters, picked by the blob store: one with local paths (``file://``) appends to a file in
the blob tree; any other (``s3://``) uses the store's multipart API (``multipart.py``). Both keep
one rule: **the stored offset never runs ahead of durable bytes**. A writer only reports a
checkpoint once what it covers is on disk (fsync) or in the object store, and only then does the
caller record the new offset. Bytes written past the recorded offset (a request cut off, a
checksum mismatch, a kill) are discarded the next time the upload is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from clipfeed.core.errors import ClipfeedError
from clipfeed.infra.blobs import BlobStore
from clipfeed.infra.blobs.atomic import fsync_dir
from clipfeed.uploads.models import Upload

HASH_BLOCK = 4 * 1024 * 1024
# Saves adapter state the moment it must not be forgotten (a new S3 multipart upload's ID).
RecordState = Callable[[dict[str, Any]], Awaitable[None]]


class DataLost(ClipfeedError):
    status, code, title = 500, "upload-data-lost", "Upload data lost"


def data_key(upload_id: int) -> str:
    return f"uploads/{upload_id}/data"


def upload_prefix(upload_id: int) -> str:
    return f"uploads/{upload_id}/"


class Writer(Protocol):
    async def write(self, data: bytes) -> None:
        """Append bytes after everything written so far (not yet durable)."""

    async def checkpoint(self) -> tuple[int, dict[str, Any]]:
        """Make everything written durable; the new offset and adapter state to record."""

    async def recorded(self) -> None:
        """The caller recorded the last checkpoint: superseded leftovers may go."""

    async def discard(self) -> None:
        """Forget what was written since the last checkpoint."""

    async def close(self) -> None: ...


class PartialStore(Protocol):
    async def open(self, upload: Upload, *, record_state: RecordState | None = None) -> Writer:
        """A writer positioned at ``upload.offset``."""

    async def seal(self, upload: Upload) -> dict[str, Any]:
        """Make the upload's bytes one whole object (idempotent); returns the new state."""

    def assembled(self, upload: Upload, partials: list[Upload]) -> contextlib.AbstractAsyncContextManager[Path]:
        """A local file holding the whole upload (a final: its partials joined), for probing."""

    async def place(self, upload: Upload, assembled: Path, key: str) -> None:
        """Store the assembled bytes as blob ``key`` (idempotent)."""

    async def remove(self, upload: Upload) -> None:
        """Delete every byte the upload holds (idempotent)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as reader:
        while block := reader.read(HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class _FileWriter:
    def __init__(self, fd: int, offset: int) -> None:
        self.fd = fd
        self.durable = offset
        self.position = offset

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self._write, data, self.position)
        self.position += len(data)

    def _write(self, data: bytes, position: int) -> None:
        view = memoryview(data)
        while view:
            written = os.pwrite(self.fd, view, position)
            view, position = view[written:], position + written

    async def checkpoint(self) -> tuple[int, dict[str, Any]]:
        if self.position != self.durable:
            await asyncio.to_thread(os.fsync, self.fd)
            self.durable = self.position
        return self.durable, {}

    async def recorded(self) -> None:
        return None

    async def discard(self) -> None:
        await asyncio.to_thread(os.ftruncate, self.fd, self.durable)
        self.position = self.durable

    async def close(self) -> None:
        os.close(self.fd)


class LocalPartials:
    """An unfinished upload is the file ``uploads/<id>/data`` in the blob tree, written in place
    (the same filesystem as the masters, so handing it off is a hard link, not a copy)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    def _path(self, key: str) -> Path:
        path = self.blobs.local_path(key)
        assert path is not None
        return path

    async def open(self, upload: Upload, *, record_state: RecordState | None = None) -> Writer:
        path = self._path(data_key(upload.id))

        def prepare() -> int:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o640)
            size = os.fstat(fd).st_size
            if size < upload.offset:
                os.close(fd)
                raise DataLost(f"upload {upload.id} lost bytes it had acknowledged; start it again")
            if size > upload.offset:  # written but never acknowledged: drop it
                os.ftruncate(fd, upload.offset)
            return fd

        return _FileWriter(await asyncio.to_thread(prepare), upload.offset)

    async def seal(self, upload: Upload) -> dict[str, Any]:
        return dict(upload.storage or {})

    @contextlib.asynccontextmanager
    async def assembled(self, upload: Upload, partials: list[Upload]) -> AsyncIterator[Path]:
        path = self._path(data_key(upload.id))
        if partials and not await asyncio.to_thread(self._joined, path, upload, partials):
            await asyncio.to_thread(self._join, path, partials)
        if not path.exists() and (upload.length or 0) == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        yield path

    @staticmethod
    def _joined(path: Path, upload: Upload, partials: list[Upload]) -> bool:
        # A join left by a crashed attempt is reused only when it is complete.
        return path.exists() and path.stat().st_size == sum(p.length or 0 for p in partials)

    def _join(self, path: Path, partials: list[Upload]) -> None:
        from clipfeed.infra.blobs.atomic import AtomicFile

        with AtomicFile(path, keep_type=True) as joined:
            for partial in partials:
                joined.append_file(self._path(data_key(partial.id)))

    async def place(self, upload: Upload, assembled: Path, key: str) -> None:
        target = self._path(key)

        def link() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.with_name(f".{target.name}.{upload.id}#link")
            temp.unlink(missing_ok=True)
            os.link(assembled, temp)  # the data file stays until the hand-off has committed
            os.replace(temp, target)
            fsync_dir(target.parent)

        await asyncio.to_thread(link)

    async def remove(self, upload: Upload) -> None:
        await self.blobs.delete_prefix(upload_prefix(upload.id))
