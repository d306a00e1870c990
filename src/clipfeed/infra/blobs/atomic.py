"""Crash-safe file replacement for the local blob store (blocking; run it in a thread).

A blob is written to a temporary file in its own directory, flushed to disk, then renamed over
the target: rename within one directory is atomic, so readers open either the old file or the
complete new one. Every name we create for ourselves contains ``#``, a character blob keys may
not hold, so temp files, type sidecars and the multipart staging area never look like blobs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from pathlib import Path
from typing import BinaryIO

from clipfeed.infra.blobs import InvalidKey

MARK = "#"
_COPY_CHUNK = 8 * 1024 * 1024


def is_internal(name: str) -> bool:
    return MARK in name


def sidecar(path: Path) -> Path:
    """Where the content type of the blob at ``path`` is kept."""
    return path.with_name(path.name + MARK + "type")


def fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; some platforms cannot open directories, which only
    # weakens durability after a power cut, never atomicity.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class AtomicFile:
    """A temp file beside ``target`` that replaces it on ``commit`` and vanishes on ``discard``.
    As a context manager: commit when the block succeeds, discard when it raises.

    ``content_type`` goes to the sidecar on commit (None removes an old one); staging files,
    which have no type, pass ``keep_type=True`` to leave sidecars alone."""

    def __init__(self, target: Path, *, content_type: str | None = None,
                 keep_type: bool = False) -> None:
        self.target = target
        self.content_type = content_type
        self.keep_type = keep_type
        self.temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}{MARK}tmp")
        # Deleting a blob prunes empty directories, so one may vanish between mkdir and open.
        for _ in range(5):
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                self.file: BinaryIO = open(self.temp, "xb")  # noqa: SIM115 - closed by commit/discard
                return
            except FileNotFoundError:
                continue
            except (FileExistsError, NotADirectoryError):
                raise InvalidKey(f"{target} lies under a path that is a blob") from None
        raise OSError(errno.ENOENT, "directory keeps disappearing", str(target.parent))

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.file.write(data)

    def append_file(self, source: Path) -> None:
        """Append the bytes of ``source`` without passing them through Python."""
        with open(source, "rb") as reader:
            copy_bytes(reader, self.file)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def commit(self) -> None:
        """Make the new bytes durable and visible under ``target``. The content-type sidecar is
        settled first, so a finished put never leaves the blob with a stale type."""
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            if not self.keep_type:
                set_content_type(self.target, self.content_type)
            os.replace(self.temp, self.target)
        except IsADirectoryError:
            self.discard()
            raise InvalidKey(f"{self.target} is a folder of other blobs") from None
        except BaseException:
            self.discard()
            raise
        fsync_dir(self.target.parent)

    def discard(self) -> None:
        self.file.close()
        self.temp.unlink(missing_ok=True)


def set_content_type(path: Path, content_type: str | None) -> None:
    if content_type is None:
        sidecar(path).unlink(missing_ok=True)
        return
    note = sidecar(path).with_name(f".{sidecar(path).name}.{secrets.token_hex(6)}{MARK}tmp")
    note.write_text(content_type, encoding="utf-8")
    os.replace(note, sidecar(path))


def content_type_of(path: Path) -> str | None:
    try:
        return sidecar(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def copy_bytes(reader: BinaryIO, writer: BinaryIO) -> None:
    """Copy the rest of ``reader`` to ``writer`` in the kernel where it can (copy_file_range
    shares extents on filesystems that support it), falling back to a plain chunked copy."""
    writer.flush()
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        try:
            while copy_range(reader.fileno(), writer.fileno(), 1 << 30):
                pass
            return
        except OSError as err:
            if err.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
    # File offsets moved by any bytes already copied, so the fallback carries on from there.
    shutil.copyfileobj(reader, writer, _COPY_CHUNK)


def remove_empty_dirs(directory: Path, root: Path) -> None:
    """Remove ``directory`` and its parents up to (not including) ``root`` while empty."""
    while directory != root and root in directory.parents:
        try:
            directory.rmdir()
        except OSError:
            return
        directory = directory.parent
