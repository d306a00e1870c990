"""Load shedding and drain: a serving process refuses work it cannot do well, before doing any.

A new request gets ``503`` with ``Retry-After`` and a problem+json body, without reaching a
route, when the process already works on ``shed_max_in_flight`` requests (until their answer
starts: an open event stream is not work), when its event loop lags more than
``shed_max_loop_lag_ms`` over three samples in a row (every request would wait that long anyway), or when it is draining
after SIGTERM. ``/readyz`` says not ready in all three cases, so a load balancer
stops sending; ``/healthz``, ``/readyz`` and ``/metrics`` are never refused.

A refused request has done nothing: it is answered before the body is read or any route runs,
so the client may retry it on another process whatever its method. If the process dies while
shedding, nothing is lost that was not already in flight (those requests are the ones a crash
costs anyway, see docs/operate/runbooks.md).

Drain: uvicorn stops listening on SIGTERM, lets in-flight requests finish (``drain_grace_s``)
and closes idle keep-alive connections. A request already on an open connection in that window
would still reach a route; ``watch_for_termination`` marks the process draining at the signal
so such a request gets 503 with ``Connection: close`` instead, and ``/readyz`` says so at once.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clipfeed.http.metrics import SHED_REQUESTS
from clipfeed.http.middleware import send_problem

EXEMPT = frozenset({"/healthz", "/readyz", "/metrics"})
LAG_SAMPLE_S = 0.1
LAG_SAMPLES = 3
RETRY_AFTER_S = 1


@dataclass
class Load:
    """How busy one serving process is (each process has its own; readiness is per process)."""

    max_in_flight: int = 0
    max_loop_lag_s: float = 0.0
    in_flight: int = 0
    loop_lag_s: float = 0.0
    draining: bool = False
    _sampler: asyncio.Task[None] | None = field(default=None, repr=False)

    def refusal(self) -> str | None:
        """Why a new request would be refused now (a ``SHED_REQUESTS`` reason), or None."""
        if self.draining:
            return "draining"
        if self.max_in_flight and self.in_flight >= self.max_in_flight:
            return "overloaded"
        if self.max_loop_lag_s and self.loop_lag_s > self.max_loop_lag_s:
            return "lagging"
        return None

    def start_sampling(self) -> None:
        """Start measuring the running loop's lag (cheap: ten wake-ups a second)."""
        if self.max_loop_lag_s and self._sampler is None:
            self._sampler = asyncio.get_running_loop().create_task(self._measure(), name="loop-lag")

    async def stop_sampling(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            await asyncio.gather(self._sampler, return_exceptions=True)
            self._sampler = None

    async def _measure(self) -> None:
        # The least lag of the last ``LAG_SAMPLES`` samples: sustained lag is overload, and
        # refusing helps; a single stall (a GC pause, a slow start-up step) is over by the time
        # it is measured, and refusing the requests it delayed would only waste their wait.
        recent: deque[float] = deque(maxlen=LAG_SAMPLES)
        while True:
            started = time.perf_counter()
            await asyncio.sleep(LAG_SAMPLE_S)
            recent.append(max(0.0, time.perf_counter() - started - LAG_SAMPLE_S))
            self.loop_lag_s = min(recent) if len(recent) == LAG_SAMPLES else 0.0


_DETAIL = {
    "draining": "this server is shutting down; retry and another will answer",
    "overloaded": "this server is working on as many requests as it can; retry shortly",
    "lagging": "this server is falling behind; retry shortly",
}


class Shedding:
    """ASGI middleware refusing new requests (503) while ``load.refusal()`` gives a reason."""

    def __init__(self, app: ASGIApp, load: Load) -> None:
        self.app = app
        self.load = load

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        load = self.load
        reason = load.refusal()
        if reason is not None:
            SHED_REQUESTS.labels(reason).inc()
            await send_problem(scope, send, 503, "unavailable", "Service unavailable", _DETAIL[reason],
                               close=reason == "draining",
                               headers=[(b"retry-after", str(RETRY_AFTER_S).encode())])
            return
        # In flight until the response starts: a stream (server-sent events, a download) then
        # only waits, and hundreds of open notification streams must not count as load.
        load.in_flight += 1
        counted = True

        async def send_and_count(message: Message) -> None:
            nonlocal counted
            if counted and message["type"] == "http.response.start":
                counted = False
                load.in_flight -= 1
            await send(message)

        try:
            await self.app(scope, receive, send_and_count)
        finally:
            if counted:
                load.in_flight -= 1


def watch_for_termination(load: Load) -> Callable[[], None]:
    """Mark ``load`` draining when SIGTERM or SIGINT arrives, then let the server's own handler
    (uvicorn's, which starts its graceful shutdown) run. Returns the undo. Does nothing outside
    the main thread or where no handler is installed (tests, embedding)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {int(sig): signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    chained: dict[int, Callable[[int, FrameType | None], object]] = {
        sig: handler for sig, handler in previous.items() if callable(handler)}

    def on_signal(sig: int, frame: FrameType | None) -> None:
        load.draining = True
        chained[sig](sig, frame)

    for sig in chained:
        signal.signal(sig, on_signal)

    def undo() -> None:
        for sig in chained:
            signal.signal(sig, previous[sig])
    return undo
