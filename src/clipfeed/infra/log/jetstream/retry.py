"""JetStream API calls that may be repeated, repeated when they time out.

Under CPU contention (a load average of 18 on a small box) a JetStream API request can miss
its deadline although the server is fine. The calls below only read or declare state (the
same stream or durable consumer configuration twice is the same state), so a timeout is
retried after a jittered pause. Publishing is not among them: a publish that timed out may
have been stored, and repeating it could store the record twice, so its timeout reaches the
caller as ``Unavailable`` (the outbox relay then retries the batch; consumers deduplicate).
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


async def repeated(call: Callable[[], Awaitable[Any]], *, attempts: int = ATTEMPTS) -> Any:
    """``call()``, again after a timeout (full-jitter exponential pauses), ``attempts`` times."""
    for attempt in range(attempts):
        try:
            return await call()
        except RETRIED:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(random.uniform(0, BASE_PAUSE_S * 2 ** attempt))
    raise AssertionError("unreachable")
