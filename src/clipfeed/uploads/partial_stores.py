"""Which partial store an upload's bytes go to: files beside a local blob store, or multipart
uploads into an object store that has no local path."""

from __future__ import annotations

from pathlib import Path

from clipfeed.infra.blobs import BlobStore
from clipfeed.uploads.multipart import MultipartPartials
from clipfeed.uploads.partials import LocalPartials, PartialStore


def open_partial_store(blobs: BlobStore, scratch: Path) -> PartialStore:
    if blobs.local_path("uploads/probe") is not None:
        return LocalPartials(blobs)
    return MultipartPartials(blobs, scratch)
