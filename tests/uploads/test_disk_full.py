"""The disk of the blob store fills up: an upload's PATCH gets a clear 507 (problem+json,
``Retry-After``), the upload keeps every durable byte and nothing past it, and once room is
made it resumes and finishes with exactly the file's bytes. The media pipeline, hitting the
same full disk, treats it as an outage to wait out (never a failed clip) and finishes the
clip once there is room.

The disk is a real one: a small tmpfs mounted for the test (the suite runs as root)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from clipfeed.core.errors import is_storage_full
from clipfeed.runtime.consumers import is_outage
from tests.helpers import assert_problem, serving, signup
from tests.services import migrate_from_template
from tests.uploads.tus import SAMPLE, create, head, patch, upload_id

DISK_MB = 8


@pytest.fixture
def small_disk() -> Iterator[Path]:
    assert os.geteuid() == 0, "this test mounts a small tmpfs: run the suite as root (CI does)"
    mount = Path(tempfile.mkdtemp(prefix="clipfeed-full-"))
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
        with contextlib.suppress(OSError):
            mount.rmdir()


def fill(disk: Path, leave: int) -> Path:
    """Write a filler file until only ``leave`` bytes are free."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(filler, "ab") as out:
        out.write(b"\0" * max(0, free - leave))
    return filler


@pytest.fixture
async def full_client(small_disk: Path, tmp_path: Path, sqlite_template: Path) -> AsyncIterator[httpx.AsyncClient]:
    from clipfeed.settings import Settings

    # Only the blob store (the masters, the renditions, unfinished uploads) is on the small disk.
    settings = Settings(data_dir=tmp_path, log_json=False, blob_url=f"file://{small_disk}/blobs",
                        media_work_dir=str(tmp_path / "work"), upload_checkpoint_bytes=256 * 1024)
    migrate_from_template(settings.resolve(settings.database_url), sqlite_template)
    async with serving(settings) as client:
        yield client


async def test_a_full_disk_gives_507_keeps_durable_bytes_and_the_upload_resumes_once_there_is_room(
        full_client: httpx.AsyncClient, small_disk: Path) -> None:
    data = SAMPLE.read_bytes()
    account = await signup(full_client, "fulldisk")
    created = await create(full_client, account.auth, len(data), filename="bunny.mp4")
    assert created.status_code == 201, created.text
    uid = upload_id(created)
    filler = fill(small_disk, leave=300 * 1024)

    refused = None
    offset = 0
    chunk = 128 * 1024
    while offset < len(data):
        response = await patch(full_client, account.auth, uid, offset, data[offset:offset + chunk])
        if response.status_code != 204:
            refused = response
            break
        offset = int(response.headers["upload-offset"])
    assert refused is not None, "the disk never filled up"
    problem = assert_problem(refused, 507)
    assert problem["type"].endswith("/insufficient-storage") and "nothing was lost" in problem["detail"]
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers.get("tus-resumable") == "1.0.0"

    # The upload is where its last durable write left it, and its file holds exactly those bytes
    kept = int((await head(full_client, account.auth, uid)).headers["upload-offset"])
    assert 0 < kept <= offset + chunk
    partial = small_disk / "blobs" / "uploads" / uid / "data"
    assert partial.stat().st_size == kept
    assert partial.read_bytes() == data[:kept]

    filler.unlink()  # an operator makes room
    offset = kept
    while offset < len(data):
        response = await patch(full_client, account.auth, uid, offset, data[offset:offset + chunk])
        assert response.status_code == 204, response.text
        offset = int(response.headers["upload-offset"])

    from clipfeed.clips.models import Clip
    from clipfeed.uploads.models import Upload

    services = full_client.services  # type: ignore[attr-defined]
    async with services.db.session() as session:
        clip_id = await session.scalar(sa.select(Upload.clip_id).where(Upload.id == int(uid)))
        media = await session.scalar(sa.select(Clip.media).where(Clip.id == clip_id))
    stored = await services.blobs.get(media["master"])
    assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()


async def test_the_pipeline_waits_out_a_full_disk_and_finishes_the_clip_once_there_is_room(
        full_client: httpx.AsyncClient, small_disk: Path) -> None:
    from clipfeed.clips.models import Clip, ClipStatus
    from clipfeed.media.job import Job
    from clipfeed.media.pipeline import run_job
    from tests.media.submit import submit

    services = full_client.services  # type: ignore[attr-defined]
    event = await submit(SAMPLE, services=services)
    job = Job.from_event(event)
    filler = fill(small_disk, leave=64 * 1024)
    with pytest.raises(Exception) as failed:  # noqa: PT011 - whichever layer hits the full disk first
        await run_job(job, services=services)
    assert is_storage_full(failed.value), repr(failed.value)
    assert is_outage(failed.value)  # handed back with a delay, never dead-lettered or failed
    async with services.db.session() as session:
        assert await session.scalar(sa.select(Clip.status).where(Clip.id == job.clip_id)) == ClipStatus.processing.value

    filler.unlink()
    assert await run_job(job, services=services) == ClipStatus.ready.value
