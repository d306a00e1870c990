"""Circuit breakers, one per engine endpoint (each Redis node, the S3 endpoint, NATS, each
PostgreSQL database), shared by every adapter of one process.

A breaker counts consecutive failures of calls to its endpoint (outages only: a refused
command or a missing key is an answer, not a failure). After ``failures`` of them it opens:
calls fail at once with the adapter's own "unreachable" error instead of each waiting out
its timeouts, so a dead Redis costs a request microseconds, not two seconds. After
``open_s`` it lets one trial call through (half-open); its success closes the breaker, its
failure opens it for another ``open_s``.

Written here rather than taken from PyPI: ``purgatory`` drives its state through an async
context manager and a message bus on every call, lets every call through while half-open,
and cannot be fed from the database engine's synchronous connection hooks; ``aiobreaker``
has had no release since 2021. This is the handful of lines the adapters need.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from prometheus_client import Gauge

State = Literal["closed", "open", "half_open"]
_LEVEL: dict[State, int] = {"closed": 0, "half_open": 1, "open": 2}

STATE = Gauge(
    "clipfeed_breaker_state",
    "Circuit breaker per engine endpoint: 0 closed, 1 half-open (a trial call is out), 2 open (calls fail at once)",
    ["engine", "endpoint"],
    multiprocess_mode="livemax",  # with several serving processes: the worst one's state
)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failures: int = 5  # consecutive failures that open a breaker
    open_s: float = 10.0  # how long it stays open before a trial call

    def __post_init__(self) -> None:
        if self.failures < 1 or self.open_s <= 0:
            raise ValueError("a breaker needs failures >= 1 and open_s > 0")


class BreakerOpen(Exception):
    """Raised by ``Breaker.allow`` while the breaker is open; adapters turn it into their own
    "unreachable" error, so callers handle it as they handle an outage."""

    def __init__(self, breaker: Breaker) -> None:
        super().__init__(
            f"circuit breaker open for {breaker.engine} {breaker.endpoint} (retry in {breaker.retry_in_s():.1f} s)"
        )
        self.breaker = breaker


class Breaker:
    def __init__(
        self, engine: str, endpoint: str, policy: BreakerPolicy, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.engine = engine
        self.endpoint = endpoint
        self.policy = policy
        self._clock = clock
        self.state: State = "closed"
        self.failures = 0
        self._opened_at = 0.0
        self._open_s = policy.open_s  # of the current opening
        self.opened = 0  # times it opened, for tests and the log
        self._gauge = STATE.labels(engine=engine, endpoint=endpoint)
        self._gauge.set(0)

    def retry_in_s(self) -> float:
        if self.state != "open":
            return 0.0
        return max(0.0, self._opened_at + self._open_s - self._clock())

    def allow(self) -> None:
        """Before a call: raise ``BreakerOpen`` if it must not go out. Past ``open_s`` the first
        caller goes out as the trial; others keep failing fast until it has answered."""
        if self.state == "closed":
            return
        if self.state == "open" and self._clock() >= self._opened_at + self._open_s:
            self._set("half_open")
            return
        raise BreakerOpen(self)

    def succeeded(self) -> None:
        self.failures = 0
        if self.state != "closed":
            self._set("closed")

    def failed(self, open_s: float | None = None) -> None:
        """A call failed. ``open_s``: how long to stay open should this failure open the
        breaker, when a failure this cheap to try again deserves a sooner trial than the
        policy's (a refused connection comes back in a millisecond; a timeout costs seconds)."""
        self.failures += 1
        if self.state == "half_open" or (self.state == "closed" and self.failures >= self.policy.failures):
            self._opened_at = self._clock()
            self._open_s = self.policy.open_s if open_s is None else min(open_s, self.policy.open_s)
            self.opened += 1
            self._set("open")

    def abandoned(self) -> None:
        """A call that ended without an answer either way (cancelled): a trial call's slot is
        given back, so the next caller tries instead."""
        if self.state == "half_open":
            self._opened_at = self._clock() - self._open_s
            self._set("open")

    def _set(self, state: State) -> None:
        self.state = state
        self._gauge.set(_LEVEL[state])

    def ended(self, exc: BaseException, is_outage: Callable[[BaseException], bool]) -> None:
        """Record how a call that raised ``exc`` ended (``is_outage`` tells an outage from an
        answer such as "not found", which counts as a success)."""
        if is_outage(exc):
            self.failed()
        elif isinstance(exc, Exception):
            self.succeeded()
        else:
            self.abandoned()

    @asynccontextmanager
    async def guard(self, is_outage: Callable[[BaseException], bool]) -> AsyncIterator[None]:
        """Run one call through the breaker: ``allow`` first, then record how it ended."""
        self.allow()
        try:
            yield
        except BaseException as exc:
            self.ended(exc, is_outage)
            raise
        self.succeeded()


class Breakers:
    """The process's breakers by (engine, endpoint), for ``/readyz`` and the metric."""

    def __init__(self) -> None:
        self.policy = BreakerPolicy()
        self._all: dict[tuple[str, str], Breaker] = {}

    def configure(self, policy: BreakerPolicy) -> None:
        """Set the policy of every breaker (``bootstrap`` calls it from Settings)."""
        self.policy = policy
        for breaker in self._all.values():
            breaker.policy = policy

    def get(self, engine: str, endpoint: str, policy: BreakerPolicy | None = None) -> Breaker:
        """The breaker of one endpoint; adapters of one process naming the same endpoint
        share it. ``endpoint`` must name no credentials: it is shown and exported."""
        found = self._all.get((engine, endpoint))
        if found is None:
            found = self._all[(engine, endpoint)] = Breaker(engine, endpoint, policy or self.policy)
        elif policy is not None:
            found.policy = policy
        return found

    def not_closed(self) -> list[Breaker]:
        return [b for b in self._all.values() if b.state != "closed"]

    def forget(self) -> None:
        """Drop every breaker and its metric (tests: a process running many stacks one after
        another would otherwise list the endpoints of stacks long gone)."""
        for engine, endpoint in self._all:
            STATE.remove(engine, endpoint)
        self._all.clear()
        self.policy = BreakerPolicy()


BREAKERS = Breakers()
