"""The open-loop generator the drills and cluster benchmarks share."""

from __future__ import annotations

import asyncio
import threading

import pytest

from clipfeed.cluster.openloop import send_at_rate


async def test_calls_go_out_on_schedule_without_waiting_for_answers_and_stragglers_are_cancelled() -> None:
    stop = threading.Event()
    started: list[int] = []
    cancelled: list[int] = []

    async def one() -> None:
        n = len(started)
        started.append(n)
        if n == 4:
            stop.set()  # the fifth call ends the run: no sixth goes out
        try:
            await asyncio.sleep(3600)  # no call ever answers: the loop must not wait for them
        except asyncio.CancelledError:
            cancelled.append(n)
            raise

    await asyncio.wait_for(send_at_rate(200.0, stop, one, drain_s=0.05), timeout=30)
    assert started == [0, 1, 2, 3, 4]
    assert sorted(cancelled) == [0, 1, 2, 3, 4]


async def test_a_rate_of_zero_is_refused() -> None:
    async def one() -> None:
        return None

    with pytest.raises(ValueError, match="rate"):
        await send_at_rate(0, threading.Event(), one)
