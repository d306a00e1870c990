"""A helper process for the model work that holds the GIL for seconds at a time.

Threads are not enough for these: building Lingua's language detector (Rust) and importing
torch and loading the caption-embedding model keep the GIL for seconds (8 s and ~1 s measured
on a loaded 2-core box), and a thread holding the GIL stalls the event loop of the process
just as surely as running on it would: with in-process workers (the default on the embedded
engines) that is every API request, and in a media worker the job's lease and lock renewals.
So these calls run in one spawned child process per worker process, which loads each model
once and keeps it; the loop only pickles a caption in and a vector or a code out.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")
_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            # spawn, not fork: the parent runs threads (and maybe torch) that a fork would copy
            # in an undefined state.
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_start_child)
        return _pool


def _start_child() -> None:
    """In the fresh interpreter: log like the parent (JSON lines), models print nothing else."""
    from clipfeed.logs import configure
    from clipfeed.settings import Settings

    settings = Settings()
    configure(settings.log_level, json=settings.log_json)


async def run(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in the model process (``fn`` and its arguments must pickle). A crashed
    helper is replaced for the next call; this one raises (a media job retries)."""
    global _pool
    pool = _executor()
    try:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
    except BrokenProcessPool:
        with _lock:
            if _pool is pool:
                _pool = None
        raise


def shutdown() -> None:
    """Stop the helper (tests, and workers on their way out)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
