"""Request coalescing: concurrent misses for one key share one computation."""

from __future__ import annotations

import asyncio

import pytest

from clipfeed.core.singleflight import SingleFlight


async def test_concurrent_callers_of_one_key_share_one_computation_and_other_keys_run_apart() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()
    runs: list[str] = []

    async def compute(key: str) -> int:
        runs.append(key)
        await release.wait()
        return len(runs)

    waiting = [asyncio.create_task(flight.run(key, lambda key=key: compute(key))) for key in ["a"] * 20 + ["b"] * 5]
    await asyncio.sleep(0)
    assert flight.running() == 2
    release.set()
    results = await asyncio.gather(*waiting)
    assert sorted(runs) == ["a", "b"]
    assert len(set(results[:20])) == 1 and len(set(results[20:])) == 1
    assert flight.running() == 0
    assert await flight.run("a", lambda: compute("a")) == 3  # done: the next miss computes again


async def test_a_failure_reaches_every_waiting_caller_and_the_next_call_tries_again() -> None:
    flight: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()

    async def broken() -> int:
        await release.wait()
        raise ConnectionError("database gone")

    waiting = [asyncio.create_task(flight.run("k", broken)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)

    async def fine() -> int:
        return 7

    assert await flight.run("k", fine) == 7


async def test_the_first_caller_going_away_does_not_cancel_the_computation_for_the_others() -> None:
    flight: SingleFlight[str, str] = SingleFlight()
    release = asyncio.Event()

    async def compute() -> str:
        await release.wait()
        return "page"

    first = asyncio.create_task(flight.run("k", compute))
    second = asyncio.create_task(flight.run("k", compute))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()
    assert await second == "page"
