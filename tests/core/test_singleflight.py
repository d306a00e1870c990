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


async def test_batch_reads_compute_each_key_once_whichever_batches_ask_for_it() -> None:
    flight: SingleFlight[int, str] = SingleFlight()
    release = asyncio.Event()
    batches: list[list[int]] = []

    async def compute(keys: list[int]) -> dict[int, str]:
        batches.append(keys)
        await release.wait()
        return {key: f"value {key}" for key in keys}

    first = asyncio.create_task(flight.run_many([1, 2, 3], compute))
    await asyncio.sleep(0)
    second = asyncio.create_task(flight.run_many([3, 4, 2, 4], compute))
    await asyncio.sleep(0)
    release.set()
    assert await first == {1: "value 1", 2: "value 2", 3: "value 3"}
    assert await second == {3: "value 3", 4: "value 4", 2: "value 2"}
    assert batches == [[1, 2, 3], [4]]  # the second batch asked only for what nobody computed
    assert flight.running() == 0


async def test_a_failed_batch_fails_every_caller_waiting_on_its_keys() -> None:
    flight: SingleFlight[int, str] = SingleFlight()

    async def broken(keys: list[int]) -> dict[int, str]:
        await asyncio.sleep(0)
        raise ConnectionError("database gone")

    async def partial(keys: list[int]) -> dict[int, str]:
        return {}

    outcomes = await asyncio.gather(
        flight.run_many([1, 2], broken), flight.run_many([2], broken), return_exceptions=True
    )
    assert all(isinstance(outcome, ConnectionError) for outcome in outcomes)
    with pytest.raises(KeyError):
        await flight.run_many([5], partial)
    assert flight.running() == 0


async def test_a_caller_that_asked_before_a_batch_ended_takes_its_result_and_later_ones_compute_again() -> None:
    # A caller missed the cache while a batch ran, but got to ask after it ended (its reply
    # waited on a busy loop): the cache now holds what it would compute, so it is not computed.
    flight: SingleFlight[str, int] = SingleFlight()
    loop = asyncio.get_running_loop()
    runs: list[list[str]] = []

    async def compute(keys: list[str]) -> dict[str, int]:
        runs.append(keys)
        return {key: len(runs) for key in keys}

    asked_at = loop.time()
    assert await flight.run_many(["a", "b"], compute, asked_at=asked_at) == {"a": 1, "b": 1}
    assert await flight.run_many(["a", "b", "c"], compute, asked_at=asked_at) == {"a": 1, "b": 1, "c": 2}
    assert runs == [["a", "b"], ["c"]]
    # Asked after those batches ended (its miss is newer than their results), or with no time given.
    assert await flight.run_many(["a"], compute, asked_at=loop.time() + 0.001) == {"a": 3}
    assert await flight.run_many(["b"], compute) == {"b": 4}
