"""The breaker's states on a clock the test moves (the engine tests are in test_breakers.py)."""

from __future__ import annotations

import asyncio

import pytest

from clipfeed.infra.breaker import Breaker, BreakerOpen, BreakerPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock: Clock) -> Breaker:
    return Breaker("test", f"endpoint-{id(clock)}", BreakerPolicy(failures=3, open_s=10.0), clock=clock)


def test_consecutive_outages_open_it_and_an_answer_in_between_starts_the_count_again() -> None:
    breaker = _breaker(Clock())
    breaker.failed()
    breaker.failed()
    breaker.succeeded()
    breaker.failed()
    breaker.failed()
    assert breaker.state == "closed"
    breaker.failed()
    assert breaker.state == "open" and breaker.opened == 1
    with pytest.raises(BreakerOpen):
        breaker.allow()


def test_after_the_open_interval_one_trial_goes_out_and_its_outcome_decides() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.failed()
    clock.now += 9.9
    with pytest.raises(BreakerOpen):
        breaker.allow()
    assert breaker.retry_in_s() == pytest.approx(0.1)
    clock.now += 0.1
    breaker.allow()  # the trial
    assert breaker.state == "half_open"
    with pytest.raises(BreakerOpen):
        breaker.allow()  # everyone else still fails fast while the trial is out
    breaker.failed()
    assert breaker.state == "open" and breaker.opened == 2 and breaker.retry_in_s() == 10.0
    clock.now += 10.0
    breaker.allow()
    breaker.succeeded()
    assert breaker.state == "closed"
    breaker.allow()


def test_a_cancelled_trial_hands_its_turn_to_the_next_caller() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.failed()
    clock.now += 10.0
    breaker.allow()
    breaker.ended(asyncio.CancelledError(), lambda exc: isinstance(exc, ConnectionError))
    assert breaker.state == "open"
    breaker.allow()  # at once, not after another interval
    assert breaker.state == "half_open"


async def test_guard_counts_outages_only_and_an_answer_such_as_not_found_closes_it() -> None:
    clock = Clock()
    breaker = _breaker(clock)

    def outage(exc: BaseException) -> bool:
        return isinstance(exc, ConnectionError)

    for _ in range(3):
        with pytest.raises(KeyError):
            async with breaker.guard(outage):
                raise KeyError("not found")  # the engine answered
    assert breaker.state == "closed" and breaker.failures == 0
    for _ in range(3):
        with pytest.raises(ConnectionError):
            async with breaker.guard(outage):
                raise ConnectionError("refused")
    assert breaker.state == "open"
    clock.now += 10.0
    with pytest.raises(KeyError):
        async with breaker.guard(outage):
            raise KeyError("not found")
    assert breaker.state == "closed"


def test_a_failure_cheap_to_retry_may_ask_for_a_sooner_trial_but_never_a_later_one() -> None:
    clock = Clock()
    breaker = _breaker(clock)
    for _ in range(3):
        breaker.failed(open_s=1.0)  # refused connections: a restarting database
    assert breaker.state == "open" and breaker.retry_in_s() == 1.0
    clock.now += 1.0
    breaker.allow()  # the trial, after 1 s rather than the policy's 10
    breaker.failed()  # timed out this time: the policy's interval again
    assert breaker.state == "open" and breaker.retry_in_s() == 10.0
    clock.now += 10.0
    breaker.allow()
    breaker.failed(open_s=60.0)
    assert breaker.retry_in_s() == 10.0
