"""Object store on a local directory tree: ``file:///var/lib/clipfeed/blobs``.

Blob ``a/b/c.mp4`` is the file ``<root>/a/b/c.mp4``, so the origin can hand it to sendfile and
operators can inspect the tree with ordinary tools. Writes are atomic (``atomic.py``); the
content type lives in a ``#type`` sidecar file next to the blob; unfinished multipart uploads
live in ``<root>/#multipart/<upload id>/``, one fsynced file per part, and so survive a
restart. ETags come from the file's identity (inode, size, modification time in nanoseconds),
which every replacing rename changes, so no blob is read twice to hash it.

Unlike S3, a key cannot be both a blob and a folder of blobs (``a`` and ``a/b``): such a put
raises ``InvalidKey``. Blocking calls run in worker threads in large chunks.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from clipfeed.core.errors import Unavailable
from clipfeed.infra.blobs import BlobInfo, BlobNotFound, InvalidKey, PartInfo, atomic, check_key
from clipfeed.infra.blobs.atomic import AtomicFile

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000
_STAGING = atomic.MARK + "multipart"
_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
_WRITE_CHUNK = 4 * 1024 * 1024
_LIST_BATCH = 500


def _etag(st: os.stat_result) -> str:
    identity = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}".encode()
    return hashlib.blake2b(identity, digest_size=16).hexdigest()


def _info(key: str, st: os.stat_result, content_type: str | None = None) -> BlobInfo:
    return BlobInfo(key=key, size=st.st_size, etag=_etag(st),
                    modified=datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC),
                    content_type=content_type)


def _check_prefix(prefix: str) -> str:
    # A prefix is a key cut anywhere, so it is safe if it could start one.
    if prefix:
        check_key(prefix + "x")
    return prefix


class LocalBlobStore:
    def __init__(self, root: Path, *, url: str | None = None) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.url = url or self.root.as_uri()

    @classmethod
    def from_url(cls, url: str) -> LocalBlobStore:
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise ValueError(f"not a local file URL: {url!r} (use file:///absolute/dir)")
        path = Path(unquote(parts.path))
        if not path.is_absolute():
            raise ValueError(f"blob root must be an absolute path: {url!r}")
        return cls(path, url=url)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _stat(self, key: str) -> BlobInfo:
        path = self._path(key)
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            raise BlobNotFound(key) from None
        if not path.is_file():
            raise BlobNotFound(key)
        return _info(key, st, atomic.content_type_of(path))

    def _open(self, key: str) -> tuple[Path, int]:
        path = self._path(key)
        try:
            return path, os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BlobNotFound(key) from None

    # --- whole blobs ------------------------------------------------------------------

    async def put(self, key: str, data: bytes | AsyncIterator[bytes], *,
                  content_type: str | None = None) -> BlobInfo:
        path = self._path(key)
        if isinstance(data, bytes | bytearray | memoryview):
            return await asyncio.to_thread(self._put_bytes, key, path, bytes(data), content_type)
        pending = await asyncio.to_thread(AtomicFile, path, content_type=content_type)
        try:
            buffer = bytearray()
            async for chunk in data:
                buffer += chunk
                if len(buffer) >= _WRITE_CHUNK:
                    await asyncio.to_thread(pending.write, bytes(buffer))
                    buffer.clear()
            await asyncio.to_thread(pending.write, bytes(buffer))
            await asyncio.to_thread(pending.commit)
        except BaseException:
            # Also on cancellation: the buffered writer's lock makes this close wait for a
            # write still running in its thread.
            pending.discard()
            raise
        return await self.stat(key)

    def _put_bytes(self, key: str, path: Path, data: bytes, content_type: str | None) -> BlobInfo:
        with AtomicFile(path, content_type=content_type) as pending:
            pending.write(data)
        return self._stat(key)

    async def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> BlobInfo:
        target = self._path(key)

        def copy() -> BlobInfo:
            with AtomicFile(target, content_type=content_type) as pending:
                pending.append_file(path)
            return self._stat(key)

        return await asyncio.to_thread(copy)

    async def get(self, key: str) -> bytes:
        def read() -> bytes:
            _, fd = self._open(key)
            with open(fd, "rb") as reader:
                return reader.read()

        return await asyncio.to_thread(read)

    async def open_read(self, key: str, *, start: int = 0, end: int | None = None,
                        chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"invalid byte range {start}-{end}")
        _, fd = await asyncio.to_thread(self._open, key)
        # Buffered on purpose: closing it (say on cancellation) waits for a read still running
        # in a worker thread instead of pulling the descriptor out from under it.
        with open(fd, "rb") as reader:
            size = os.fstat(fd).st_size
            stop = size if end is None else min(end + 1, size)
            reader.seek(start)
            left = stop - start
            while left > 0:
                chunk = await asyncio.to_thread(reader.read, min(chunk_size, left))
                if not chunk:
                    break
                left -= len(chunk)
                yield chunk

    async def download(self, key: str, path: Path) -> None:
        def copy() -> None:
            _, fd = self._open(key)
            with open(fd, "rb") as reader, open(path, "wb") as writer:
                atomic.copy_bytes(reader, writer)

        await asyncio.to_thread(copy)

    async def stat(self, key: str) -> BlobInfo:
        return await asyncio.to_thread(self._stat, key)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        walk = self._walk(_check_prefix(prefix))

        def next_batch() -> builtins.list[BlobInfo]:
            return [info for _, info in zip(range(_LIST_BATCH), walk, strict=False)]

        while batch := await asyncio.to_thread(next_batch):
            for info in batch:
                yield info

    def _walk(self, prefix: str) -> Iterator[BlobInfo]:
        folder = prefix.rpartition("/")[0]
        start = self.root.joinpath(*folder.split("/")) if folder else self.root
        yield from self._walk_dir(start, folder + "/" if folder else "", prefix)

    def _walk_dir(self, directory: Path, key_prefix: str, prefix: str) -> Iterator[BlobInfo]:
        try:
            entries = [e for e in os.scandir(directory) if not atomic.is_internal(e.name)]
        except (FileNotFoundError, NotADirectoryError):
            return
        # Sorting folders as "name/" yields keys in plain string order, as S3 lists them.
        folders = {e.name for e in entries if e.is_dir(follow_symlinks=False)}
        for entry in sorted(entries, key=lambda e: e.name + "/" if e.name in folders else e.name):
            key = key_prefix + entry.name
            if entry.name in folders:
                below = key + "/"
                if below.startswith(prefix) or prefix.startswith(below):
                    yield from self._walk_dir(Path(entry.path), below, prefix)
            elif key.startswith(prefix) and entry.is_file(follow_symlinks=False):
                # Files that were deleted while we walked, or dropped in by hand under a name
                # no key can have, are not blobs.
                with contextlib.suppress(FileNotFoundError, InvalidKey):
                    yield _info(check_key(key), entry.stat(follow_symlinks=False))

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._delete, self._path(key))

    def _delete(self, path: Path) -> bool:
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return False
        atomic.sidecar(path).unlink(missing_ok=True)
        atomic.remove_empty_dirs(path.parent, self.root)
        return True

    async def delete_prefix(self, prefix: str) -> int:
        _check_prefix(prefix)

        def delete_all() -> int:
            return sum(self._delete(self._path(info.key)) for info in self._walk(prefix))

        return await asyncio.to_thread(delete_all)

    async def copy(self, source: str, target: str) -> BlobInfo:
        def copy() -> BlobInfo:
            source_path, fd = self._open(source)
            content_type = atomic.content_type_of(source_path)
            with open(fd, "rb") as reader, AtomicFile(self._path(target),
                                                      content_type=content_type) as pending:
                atomic.copy_bytes(reader, pending.file)
            return self._stat(target)

        return await asyncio.to_thread(copy)

    # --- multipart uploads ------------------------------------------------------------

    def _staging(self, key: str, upload_id: str) -> tuple[Path, str | None]:
        """The upload's folder and content type; ``BlobNotFound`` for an unknown upload."""
        check_key(key)
        if not _UPLOAD_ID.match(upload_id):
            raise BlobNotFound(f"no multipart upload {upload_id!r}")
        folder = self.root / _STAGING / upload_id
        try:
            upload = json.loads((folder / "upload.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BlobNotFound(f"no multipart upload {upload_id!r}") from None
        if upload["key"] != key:
            raise BlobNotFound(f"multipart upload {upload_id!r} is not for {key!r}")
        return folder, upload["content_type"]

    async def create_multipart(self, key: str, *, content_type: str | None = None) -> str:
        check_key(key)
        upload_id = secrets.token_hex(16)

        def create() -> None:
            with AtomicFile(self.root / _STAGING / upload_id / "upload.json", keep_type=True) as note:
                note.write(json.dumps({"key": key, "content_type": content_type}).encode())

        await asyncio.to_thread(create)
        return upload_id

    async def upload_part(self, key: str, upload_id: str, number: int, data: bytes) -> PartInfo:
        if not 1 <= number <= MAX_PART_NUMBER:
            raise ValueError(f"part numbers run from 1 to {MAX_PART_NUMBER}, not {number}")

        def store() -> PartInfo:
            folder, _ = self._staging(key, upload_id)
            with AtomicFile(folder / f"{number:05d}", keep_type=True) as part:
                part.write(data)
            return self._part(folder / f"{number:05d}")

        return await asyncio.to_thread(store)

    @staticmethod
    def _part(path: Path) -> PartInfo:
        st = path.stat()
        return PartInfo(number=int(path.name), size=st.st_size, etag=_etag(st))

    def _parts(self, folder: Path) -> builtins.list[PartInfo]:
        return sorted((self._part(path) for path in folder.iterdir() if path.name.isdigit()),
                      key=lambda part: part.number)

    async def list_parts(self, key: str, upload_id: str) -> builtins.list[PartInfo]:
        return await asyncio.to_thread(lambda: self._parts(self._staging(key, upload_id)[0]))

    async def complete_multipart(self, key: str, upload_id: str,
                                 parts: Sequence[PartInfo]) -> BlobInfo:
        def complete() -> BlobInfo:
            folder, content_type = self._staging(key, upload_id)
            stored = {part.number: part for part in self._parts(folder)}
            _check_part_list(parts, stored)
            with AtomicFile(self._path(key), content_type=content_type) as pending:
                for part in parts:
                    pending.append_file(folder / f"{part.number:05d}")
            shutil.rmtree(folder, ignore_errors=True)
            return self._stat(key)

        return await asyncio.to_thread(complete)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        def abort() -> None:
            with contextlib.suppress(BlobNotFound):
                shutil.rmtree(self._staging(key, upload_id)[0], ignore_errors=True)

        await asyncio.to_thread(abort)

    def local_path(self, key: str) -> Path | None:
        """The blob's file (which may not exist); no I/O, so it is safe on the event loop."""
        return self._path(key)

    async def ping(self) -> None:
        if not await asyncio.to_thread(os.access, self.root, os.W_OK | os.X_OK):
            raise Unavailable(f"blob folder {self.root} is missing or not writable")

    async def close(self) -> None:
        return None


def _check_part_list(parts: Sequence[PartInfo], stored: dict[int, PartInfo]) -> None:
    """Refuse what S3 refuses, so mistakes show up on a laptop too."""
    if not parts:
        raise ValueError("a multipart upload needs at least one part")
    numbers = [part.number for part in parts]
    if numbers != sorted(set(numbers)):
        raise ValueError("parts must be listed once each, in ascending order")
    for index, part in enumerate(parts):
        found = stored.get(part.number)
        if found is None or found.etag != part.etag:
            raise ValueError(f"part {part.number} was not uploaded or has changed since")
        if index < len(parts) - 1 and found.size < MIN_PART_SIZE:
            raise ValueError(f"part {part.number} is smaller than 5 MiB and not the last")

