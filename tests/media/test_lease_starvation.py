"""Two media workers and one clip, the first one stalled past its lease (SIGSTOP, as a long
model load or a CPU-bound step on its event loop would): the second finishes the job, the first
notices on waking that its lock is gone and stops, and consumers see exactly one result."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from clipfeed.infra.blobs import BlobNotFound
from clipfeed.infra.log.embedded.log import DB_NAME
from tests.helpers import sqlite_write_lock_free, wait_for
from tests.media.submit import clip_row, make_clip, outcomes, submit
from tests.services import stop_process

# Both stacks: on the real one the lock lives in Redis and the work state in S3, where a
# stalled worker that goes on regardless finds nothing in its way (as in the reported case).
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("stack", ["embedded", "real"], indirect=True)]
CLIPFEED = Path(sys.executable).parent / "clipfeed"
LEASE_S = 3


def start_worker(settings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(settings.data_dir), "CLIPFEED_MEDIA_ACK_WAIT_S": str(LEASE_S),
           "CLIPFEED_LOG_JSON": "true", "CLIPFEED_DATABASE_URL": settings.database_url,
           "CLIPFEED_BLOB_URL": settings.blob_url, "CLIPFEED_CACHE_URL": settings.cache_url,
           "CLIPFEED_LOG_URL": settings.log_url}
    with log.open("ab") as out:
        return subprocess.Popen([str(CLIPFEED), "worker", "media"], env=env, stdout=out, stderr=subprocess.STDOUT)


def sqlite_files(settings) -> list[Path]:
    """The SQLite files the workers write on the embedded stack: the metadata database and the
    event log (none on the real one)."""
    files = []
    database, log = settings.resolve(settings.database_url), settings.resolve(settings.log_url)
    if database.startswith("sqlite:///"):
        files.append(Path(database.removeprefix("sqlite:///")))
    if log.startswith("embedded://"):
        files.append(Path(unquote(urlsplit(log).path)) / DB_NAME)
    assert all(path.exists() for path in files), files
    return files


def stall(worker: subprocess.Popen[bytes], files: list[Path]) -> None:
    """SIGSTOP ``worker`` at a moment it is inside no SQLite write transaction. A process frozen
    inside one holds that file's lock from every other process until it wakes, which no lease
    can take back (SQLite's locking: docs/operate/deployment.md, Stage 1); what this test is
    about is the lease and the fence, so the stall starts between writes."""
    for _ in range(200):
        worker.send_signal(signal.SIGSTOP)
        if all(sqlite_write_lock_free(path) for path in files):
            return
        worker.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("the worker was inside a write transaction at each of 200 tries")


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def logged(log: Path, event: str) -> list[dict]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event:
            found.append(entry)
    return found


async def test_a_worker_stalled_past_its_lease_publishes_nothing_after_another_finished_the_job(
        tmp_path: Path, *, services) -> None:
    source = make_clip(tmp_path / "src.mp4", size="640x360", seconds=10)
    event = await submit(source, services=services)
    clip_id = int(event.key)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_worker(services.settings, first_log)
    second = None
    try:
        async def screening() -> bool:  # thumbnails saved: the models load and run next
            try:
                state = json.loads(await services.blobs.get(f"clips/{clip_id}/work/state.json"))
            except BlobNotFound:
                return False
            return "thumbnails" in state.get("stages", {})

        await wait_for(screening, 180)
        # As a first model load would: its event loop, heartbeat and lock renewal all stop.
        stall(first, sqlite_files(services.settings))
        second = start_worker(services.settings, second_log)

        async def ready() -> bool:
            return (await clip_row(clip_id, services=services)).status == "ready"

        try:
            await wait_for(ready, 240)
        except AssertionError as exc:
            raise AssertionError(f"the second worker did not finish the clip; its log ends:\n"
                                 f"{tail(second_log)}") from exc
        first.send_signal(signal.SIGCONT)

        async def first_settled() -> bool:  # it stopped, failed, or finished its copy of the job
            return any(logged(first_log, event) for event in (
                "media.lock_lost", "media.result_fenced", "media.job_done", "processor.retry"))

        await wait_for(first_settled, 120)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGCONT)
                stop_process(worker, grace=30)  # SIGTERM, then SIGKILL if it is still finishing a job
    clip = await clip_row(clip_id, services=services)
    assert clip.status == "ready"
    await services.outbox.flush()
    await asyncio.sleep(0)
    results = [e.type for e in await outcomes(clip_id, services=services)]
    assert results == ["clip.ready"], f"results published: {results}"
