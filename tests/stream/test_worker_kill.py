"""A ``clipfeed worker stream`` process killed (SIGKILL) in the middle of its work: after a
restart the counters are exact, on both stacks."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from clipfeed.core.viewers import ViewerId
from clipfeed.events import service as ingest
from clipfeed.stream.catchup import wait_for_catch_up
from clipfeed.stream.counters import read_counts_from_db
from clipfeed.stream.models import ClipStats

CLIPFEED = str(Path(sys.executable).parent / "clipfeed")
pytestmark = pytest.mark.slow


def worker_env(settings) -> dict[str, str]:
    return {**os.environ, "CLIPFEED_DATA_DIR": str(settings.data_dir), "CLIPFEED_DATABASE_URL": settings.database_url,
            "CLIPFEED_BLOB_URL": settings.blob_url, "CLIPFEED_CACHE_URL": settings.cache_url,
            "CLIPFEED_LOG_URL": settings.log_url, "CLIPFEED_LOG_JSON": "false", "CLIPFEED_LOG_LEVEL": "WARNING"}


def start_worker(settings, log_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([CLIPFEED, "worker", "stream"], env=worker_env(settings),
                            stdout=log_path.open("ab"), stderr=subprocess.STDOUT)


async def _plays_applied(*, services) -> int:
    total = 0
    for shard in range(services.db.shard_count):
        async with services.db.shard_session_at(shard) as session:
            total += int(await session.scalar(sa.select(sa.func.coalesce(sa.func.sum(ClipStats.plays), 0))) or 0)
    return total


async def test_killed_stream_worker_leaves_exact_counters_after_restart(tmp_path: Path, *, services) -> None:
    rng = random.Random(8)
    clips = list(range(1000, 1040))
    now = time.time()
    expected: dict[int, Counter[str]] = defaultdict(Counter)
    viewers_of: dict[int, set[str]] = defaultdict(set)
    for viewer_no in range(40):
        viewer = ViewerId.signed_in(50_000 + viewer_no)
        batch = []
        for i in range(200):
            clip = rng.choice(clips)
            kind = rng.choice(["impression", "play_start", "progress", "complete"])
            raw = {"event_id": uuid.uuid4().hex, "type": kind, "clip_id": clip, "ts": int((now - 60 + i * 0.1) * 1000),
                   "session_id": f"s{viewer_no}"}
            if kind == "progress":
                raw["watch_ms"] = rng.randint(100, 5000)
                expected[clip]["watch_ms"] += raw["watch_ms"]
            expected[clip][{"impression": "impressions", "play_start": "plays", "progress": "progress",
                            "complete": "completes"}[kind]] += 1
            if kind == "play_start":
                viewers_of[clip].add(viewer.key)
            batch.append(raw)
        result = await ingest.ingest(services=services, raw_events=batch, viewer=viewer, region="local")
        assert result.accepted == 200
    total_plays = sum(c["plays"] for c in expected.values())

    log_path = tmp_path / "worker.log"
    worker = start_worker(services.settings, log_path)
    try:
        deadline = time.monotonic() + 120
        while (applied := await _plays_applied(services=services)) == 0:
            assert worker.poll() is None and time.monotonic() < deadline, log_path.read_text()
            await asyncio.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        assert applied < total_plays, "the worker finished before it could be killed; send more events"
        worker = start_worker(services.settings, log_path)
        await wait_for_catch_up(services=services, groups=[("stream-clips", "activity.clips")], timeout=120)
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
    counts = await read_counts_from_db(services=services, clip_ids=clips)
    for clip in clips:
        want = expected[clip]
        got = counts[clip]
        assert (got.impressions, got.plays, got.completes, got.watch_ms) == (
            want["impressions"], want["plays"], want["completes"], want["watch_ms"]), clip
        assert got.views == got.unique_viewers == len(viewers_of[clip]), clip
