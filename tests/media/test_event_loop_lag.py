"""Media processing in-process (the default on embedded engines) must leave the event loop
free for the API: a ticker on the same loop measures how late it wakes up while a real clip
goes through the whole pipeline (probe, transcode, thumbnails, screening, metadata)."""

from __future__ import annotations

import asyncio
import gc
import time

import pytest

from clipfeed.api import settle_heap
from clipfeed.media.job import Job
from clipfeed.media.pipeline import run_job
from tests.media.submit import SHARED, submit

pytestmark = [pytest.mark.slow, pytest.mark.alone, pytest.mark.parametrize("stack", ["embedded"], indirect=True)]
TICK_S = 0.02
# The bound. Measured 130-254 ms at a load average of 11 while the test process's
# heap was left as the fixtures made it (12 s before the model work moved out): the worst
# stalls were the cyclic collector's full passes (140 ms) over everything the test session
# had loaded. A serving process freezes that heap after start-up, and so does this test now.
MAX_LAG_S = 0.25


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        due = time.perf_counter() + TICK_S
        await asyncio.sleep(TICK_S)
        lags.append(time.perf_counter() - due)


async def test_processing_a_clip_in_process_never_stalls_the_event_loop(*, services) -> None:
    event = await submit(SHARED / "cup.mp4", caption="A cup on a table #kitchen", services=services)
    settle_heap()  # as `clipfeed serve` does once its services and workers are up
    lags: list[float] = []
    stop = asyncio.Event()
    ticking = asyncio.create_task(_ticker(lags, stop))
    try:
        outcome = await run_job(Job.from_event(event), services=services)
    finally:
        stop.set()
        await ticking
        gc.unfreeze()  # this process goes on to build other tests' apps
    assert outcome == "ready"
    worst = max(lags)
    assert len(lags) > 50 and worst < MAX_LAG_S, f"the event loop stalled for {worst * 1000:.0f} ms"
