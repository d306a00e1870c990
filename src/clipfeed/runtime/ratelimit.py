"""Fixed-window rate limits on the cache port, shared by every API process that shares it."""

from __future__ import annotations

import time
from collections.abc import Callable

from clipfeed.core.errors import RateLimited, Unavailable
from clipfeed.infra.cache import Cache


class RateLimiter:
    def __init__(self, cache: Cache, *, clock: Callable[[], float] = time.time) -> None:
        self.cache = cache
        # Injected so tests can hold time still: a window boundary falling in the middle of
        # a test's burst would otherwise reset its count.
        self.clock = clock

    async def hit(self, scope: str, subject: str, *, limit: int, per_seconds: int,
                  cost: int = 1, required: bool = False) -> None:
        """Count one use of ``scope`` by ``subject``; raise ``RateLimited`` past ``limit``.

        While the cache is unreachable nothing can be counted: the use is let through (load
        shedding still bounds what a process takes on), unless ``required`` (sign-in and
        sign-up, where an uncounted burst means password guessing or spam accounts): then
        ``Unavailable`` (503) is raised."""
        now = self.clock()
        window = int(now // per_seconds)
        key = f"rl:{scope}:{subject}:{window}"
        try:
            used = await self.cache.incr(key, cost, ttl=per_seconds + 1)
        except Unavailable:
            if required:
                raise
            return
        if used > limit:
            retry = per_seconds - int(now % per_seconds)
            raise RateLimited(f"too many {scope} requests; try again in {retry} s", retry_after=retry)
