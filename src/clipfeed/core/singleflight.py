"""Request coalescing: concurrent callers asking for the same key share one computation.

A cache-aside read that misses recomputes the value and stores it; when a popular entry
expires (or the cache was lost) every request in flight for it misses at once, and each would
run the same queries and blob reads (a cache stampede). ``SingleFlight.run`` lets the first
caller compute and hands its result, or its error, to the others that ask meanwhile. It works
within one process; across processes the cache itself, refilled by the first, takes over.

A caller can miss the cache just before a computation of its key ends and get to ask just
after it ended (its reply waited behind the others on a busy event loop): it would compute
again what the cache now holds. ``run_many(..., asked_at=...)`` therefore also hands out the
results of computations that ended after the caller asked the cache (kept ``RECENT_S``): its
miss was no newer than they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

RECENT_S = 1.0

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._running: dict[K, asyncio.Future[V]] = {}
        self._recent: dict[K, tuple[float, V]] = {}  # results of ended batches, by when they ended

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

    async def run_many(self, keys: Sequence[K], compute: Callable[[list[K]], Awaitable[Mapping[K, V]]], *,
                       asked_at: float | None = None) -> dict[K, V]:
        """The values of ``keys``, for batch reads (``get_many`` then the database for the
        misses): keys another caller is computing are awaited from it, the others computed in
        one ``compute(those keys)`` call, which later callers wait for in turn. ``compute``
        must return a value for every key it is given. ``asked_at`` (the event loop's time when
        the caller read the cache): keys whose computation ended since then are not computed
        again."""
        loop = asyncio.get_running_loop()
        wanted = list(dict.fromkeys(keys))
        out: dict[K, V] = {}
        if asked_at is not None:
            self._forget_older_than(loop.time() - RECENT_S)
            for key in wanted:
                ended = self._recent.get(key)
                if ended is not None and ended[0] >= asked_at:
                    out[key] = ended[1]
        waiting = {key: self._running[key] for key in wanted if key in self._running and key not in out}
        mine = {key: loop.create_future() for key in wanted if key not in waiting and key not in out}
        if mine:
            self._running.update(mine)
            batch = asyncio.ensure_future(compute(list(mine)))
            batch.add_done_callback(lambda done: self._settle(mine, done))
            waiting.update(mine)
        for key, future in waiting.items():
            out[key] = await asyncio.shield(future)
        return out

    def _forget_older_than(self, moment: float) -> None:
        # Insertion order is the order batches ended in: the oldest come first.
        old = []
        for key, (ended, _) in self._recent.items():
            if ended >= moment:
                break
            old.append(key)
        for key in old:
            del self._recent[key]

    def _settle(self, futures: dict[K, asyncio.Future[V]], batch: asyncio.Future[Mapping[K, V]]) -> None:
        failure = None if batch.cancelled() else batch.exception()
        now = asyncio.get_running_loop().time()
        self._forget_older_than(now - RECENT_S)
        for key, future in futures.items():
            if self._running.get(key) is future:
                del self._running[key]
            if batch.cancelled():
                future.cancel()
            elif failure is not None:
                future.set_exception(failure)
                future.exception()  # retrieved: nobody may be left to await it
            elif key in batch.result():
                future.set_result(batch.result()[key])
                self._recent.pop(key, None)
                self._recent[key] = (now, batch.result()[key])
            else:
                future.set_exception(KeyError(key))
                future.exception()

    def _finished(self, key: K, task: asyncio.Future[V]) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved: nobody may be left to await a failure

    def running(self) -> int:
        """Computations in flight (for tests)."""
        return len(self._running)
