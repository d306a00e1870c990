"""GET and HEAD requests that a PostgreSQL restart broke are run again, within the same process.

A transaction that had not sent anything yet already waits for a restarting server
(``clipfeed.infra.db.restarts``). One that was running when the server went down lost its
connection mid-way; for a write the outcome is then unknown, so the 503 goes to the client,
which decides (with its ``Idempotency-Key``). A read has no outcome to be unsure of: a GET or
HEAD request that sent no write to the database and got a 503 because a restart broke or
refused its connection is run again from the start, its first answer dropped before any byte
of it left, until it succeeds or ``wait_s`` has passed since it arrived. At most ``MAX_RUNS``
runs, each after a short jittered pause; the client sees one answer.

Plain ASGI, inside the request context and load shedding (a request counts once) and outside
the exception handlers (the 503 problem+json they make is what is held back).
"""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clipfeed.infra.db import restarts

MAX_RUNS = 4
READS = frozenset({"GET", "HEAD"})
RUNS_AGAIN = Counter("clipfeed_http_reads_run_again_total",
                     "GET/HEAD requests run again because a database restart broke their connection")


class RunReadsAgain:
    def __init__(self, app: ASGIApp, *, wait_s: float) -> None:
        self.app = app
        self.wait_s = wait_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in READS or self.wait_s <= 0:
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.wait_s
        runs = 1
        while await self._run(scope, receive if runs == 1 else _empty_body(receive), send,
                              may_drop=runs < MAX_RUNS, deadline=deadline):
            RUNS_AGAIN.inc()
            await asyncio.sleep(restarts.pause_s(runs))
            runs += 1

    async def _run(self, scope: Scope, receive: Receive, send: Send, *, may_drop: bool, deadline: float) -> bool:
        """One run of the request; True when its answer was dropped, to run it again."""
        attempt = restarts.Attempt()
        token = restarts.CURRENT.set(attempt)
        dropped = False

        async def sending(message: Message) -> None:
            nonlocal dropped
            if (message["type"] == "http.response.start" and message["status"] == 503 and attempt.lost
                    and not attempt.wrote and may_drop and time.monotonic() < deadline):
                dropped = True
            if not dropped:
                await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            restarts.CURRENT.reset(token)
        return dropped


def _empty_body(receive: Receive) -> Receive:
    """A GET's (empty) body once more, then the client's own messages (a disconnect)."""
    given = False

    async def again() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()
    return again
