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
from pathlib import Path

import pytest

from tests.helpers import wait_for
from tests.media.submit import clip_row, make_clip, object_keys, submit, topic_events

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]
CLIPFEED = Path(sys.executable).parent / "clipfeed"
LEASE_S = 3


def start_worker(settings, log: Path) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    env = {**os.environ, "CLIPFEED_DATA_DIR": str(settings.data_dir), "CLIPFEED_MEDIA_ACK_WAIT_S": str(LEASE_S),
           "CLIPFEED_LOG_JSON": "true"}
    with log.open("ab") as out:
        return subprocess.Popen([str(CLIPFEED), "worker", "media"], env=env, stdout=out, stderr=subprocess.STDOUT)


def logged(log: Path, event: str) -> list[dict]:  # type: ignore[type-arg]
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
        services, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = make_clip(tmp_path / "src.mp4", size="640x360", seconds=10)
    event = await submit(services, source)
    clip_id = int(event.key)
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = start_worker(services.settings, first_log)
    second = None
    try:
        async def transcoding() -> bool:
            return len([k for k in await object_keys(services, clip_id) if k.endswith(".m4s")]) >= 2

        await wait_for(transcoding, 120)
        first.send_signal(signal.SIGSTOP)  # its event loop, heartbeat and lock renewal all stop
        second = start_worker(services.settings, second_log)

        async def ready() -> bool:
            return (await clip_row(services, clip_id)).status == "ready"

        await wait_for(ready, 240)
        first.send_signal(signal.SIGCONT)

        async def first_stopped() -> bool:
            return bool(logged(first_log, "media.lock_lost") or logged(first_log, "media.result_fenced"))

        await wait_for(first_stopped, 60)
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.send_signal(signal.SIGCONT)
                worker.send_signal(signal.SIGTERM)
                worker.wait(30)
    clip = await clip_row(services, clip_id)
    assert clip.status == "ready"
    await services.outbox.flush()
    await asyncio.sleep(0)
    results = {e.id for e in await topic_events(services, "media.results", clip_id)}
    assert results == {clip.media["result_event"]}, "a second result was published"
    ready_events = {e.id for e in await topic_events(services, "clips", clip_id) if e.type == "clip.ready"}
    assert len(ready_events) == 1, f"{len(ready_events)} clip.ready events"
    assert not logged(first_log, "media.job_done") or "already" in logged(first_log, "media.job_done")[-1]["outcome"]
