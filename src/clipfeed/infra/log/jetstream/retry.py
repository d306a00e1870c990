"""JetStream API calls that may be repeated, repeated when they time out.

Under CPU contention (a load average of 18 on a small box) a JetStream API request can miss
its deadline although the server is fine. The calls below only read or declare state (the
same stream or durable consumer configuration twice is the same state), so a timeout is
retried after a jittered pause. Publishes are retried too, but only because each carries a
message ID (``Nats-Msg-Id``, kept across its attempts): a publish that timed out after the
server stored it is recognised as a duplicate within the stream's duplicate window (2 minutes)
and acknowledged with the first copy's sequence, so a record is never stored twice. Once the
attempts are spent the timeout reaches the caller as ``Unavailable``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors

IDEMPOTENT = frozenset({"stream_info", "consumer_info", "account_info", "add_stream", "update_stream",
                        "add_consumer", "find_stream_name_by_subject"})
ATTEMPTS = 3
BASE_PAUSE_S = 0.1
RETRIED = (nats.errors.TimeoutError, TimeoutError, nats.errors.NoRespondersError)


class PatientJetStream:
    """Wraps a ``JetStreamContext``: the calls named in ``IDEMPOTENT`` are retried on a
    timeout, every other attribute is the context's own."""

    def __init__(self, js: Any) -> None:
        self._js = js

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._js, name)
        if name not in IDEMPOTENT:
            return attribute
        return lambda *args, **kwargs: repeated(lambda: attribute(*args, **kwargs))


def pause_s(attempt: int) -> float:
    """Full-jitter exponential back-off before attempt ``attempt + 1``."""
    return random.uniform(0, BASE_PAUSE_S * 2 ** attempt)


async def repeated(call: Callable[[], Awaitable[Any]], *, attempts: int = ATTEMPTS) -> Any:
    """``call()``, again after a timeout (full-jitter exponential pauses), ``attempts`` times."""
    for attempt in range(attempts):
        try:
            return await call()
        except RETRIED:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(pause_s(attempt))
    raise AssertionError("unreachable")
