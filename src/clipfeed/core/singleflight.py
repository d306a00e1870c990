"""Request coalescing: concurrent callers asking for the same key share one computation.

A cache-aside read that misses recomputes the value and stores it; when a popular entry
expires (or the cache was lost) every request in flight for it misses at once, and each would
run the same queries and blob reads (a cache stampede). ``SingleFlight.run`` lets the first
caller compute and hands its result, or its error, to the others that ask meanwhile. It works
within one process; across processes the cache itself, refilled by the first, takes over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._running: dict[K, asyncio.Task[V]] = {}

    async def run(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        """``await compute()``, unless a call for ``key`` is already running: then its outcome.

        The computation runs as a task of its own, so a caller that goes away (its client
        disconnected) does not cancel it for the others; it still ends and fills the cache."""
        task = self._running.get(key)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._running[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved: nobody may be left to await a failure

    def running(self) -> int:
        """Computations in flight (for tests)."""
        return len(self._running)
