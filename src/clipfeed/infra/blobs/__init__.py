"""Object store port: named blobs (media renditions, raw uploads, thumbnails, lake files).

Keys are ``/``-separated relative paths of safe characters; anything that could escape the
store (``..``, absolute paths, backslashes, NUL) is refused with ``InvalidKey``. A missing
blob raises ``BlobNotFound`` (a ``FileNotFoundError``) from every adapter. Checked by
``tests/contract/test_blob_store.py`` against the local and S3 adapters.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

__all__ = ["BlobStore", "BlobInfo", "BlobNotFound", "InvalidKey", "PartInfo", "check_key",
           "open_blob_store"]

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._=+@-]+(/[A-Za-z0-9._=+@-]+)*$")


class BlobNotFound(FileNotFoundError):
    pass


class InvalidKey(ValueError):
    pass


def check_key(key: str) -> str:
    """The key itself if it is safe, else ``InvalidKey`` (no traversal, no odd characters)."""
    if not key or len(key) > 1024 or not _SAFE_KEY.match(key) or any(
            part in (".", "..") for part in key.split("/")):
        raise InvalidKey(f"invalid blob key {key!r}")
    return key


@dataclass(frozen=True)
class BlobInfo:
    key: str
    size: int
    etag: str
    modified: datetime
    content_type: str | None = None


@dataclass(frozen=True)
class PartInfo:
    number: int
    size: int
    etag: str


class BlobStore(Protocol):
    url: str

    async def put(self, key: str, data: bytes | AsyncIterator[bytes], *,
                  content_type: str | None = None) -> BlobInfo:
        """Store ``data`` under ``key`` atomically: readers see the old blob or the whole new
        one, never a part. Streams of any length are accepted without buffering them whole."""

    async def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> BlobInfo:
        """Store a local file (large files go up in parts on S3)."""

    async def get(self, key: str) -> bytes:
        """The whole blob in memory (small blobs only)."""

    def open_read(self, key: str, *, start: int = 0, end: int | None = None,
                  chunk_size: int = 256 * 1024) -> AsyncIterator[bytes]:
        """Stream bytes ``[start, end]`` (``end`` inclusive, as in HTTP Range; None = to the end).
        Raises ``BlobNotFound`` on first iteration if the blob is missing."""

    async def download(self, key: str, path: Path) -> None:
        """Copy the blob to a local file (for FFmpeg, which wants a path)."""

    async def stat(self, key: str) -> BlobInfo:
        """Size, ETag, modification time and content type; ``BlobNotFound`` if missing."""

    async def exists(self, key: str) -> bool: ...

    def list(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        """Every blob whose key starts with ``prefix``, in key order."""

    async def delete(self, key: str) -> None:
        """Remove a blob; removing a missing blob is not an error."""

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every blob under ``prefix``; returns how many."""

    async def copy(self, source: str, target: str) -> BlobInfo:
        """Server-side copy where the backend has one."""

    # Multipart uploads: parts of at least 5 MiB (except the last), assembled on completion.
    async def create_multipart(self, key: str, *, content_type: str | None = None) -> str:
        """Start a multipart upload for ``key``; returns its upload ID."""

    async def upload_part(self, key: str, upload_id: str, number: int,
                          data: bytes) -> PartInfo:
        """Store part ``number`` (1-based). Re-uploading a number replaces that part."""

    async def list_parts(self, key: str, upload_id: str) -> builtins.list[PartInfo]:
        """Parts stored so far, by number (what survives a restart of our process)."""

    async def complete_multipart(self, key: str, upload_id: str,
                                 parts: Sequence[PartInfo]) -> BlobInfo:
        """Join the parts into the blob ``key``."""

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an unfinished multipart upload and its parts."""

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for the blob if the backend has one (for sendfile), else None."""

    async def ping(self) -> None:
        """Raise if the store cannot be reached."""

    async def close(self) -> None: ...


def open_blob_store(url: str) -> BlobStore:
    """``file:///var/blobs`` or ``s3://bucket/prefix?endpoint=http://host:8333&region=…``."""
    scheme = url.split("://", 1)[0]
    if scheme == "file":
        from clipfeed.infra.blobs.local import LocalBlobStore

        return LocalBlobStore.from_url(url)
    if scheme == "s3":
        from clipfeed.infra.blobs.s3 import S3BlobStore

        return S3BlobStore.from_url(url)
    raise ValueError(f"unknown blob URL scheme {scheme!r} (use file:// or s3://)")
