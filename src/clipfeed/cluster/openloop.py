"""An open-loop request generator: one call every ``1/rate`` seconds, on time whatever the
answers before it did, as real clients arrive. A closed loop (send, wait for the answer, send
the next) would slow down with the server and hide its queueing: the latencies it reports are
the ones an overloaded server chooses to show.

Shared by the cluster drills (``drill.py``) and the benchmarks that drive a cluster.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable


async def send_at_rate(rate: float, stop: threading.Event, one: Callable[[], Awaitable[None]], *,
                       started: float | None = None, drain_s: float = 15.0) -> None:
    """Start ``one()`` ``rate`` times a second from ``started`` (``time.monotonic()``; now by
    default) until ``stop`` is set, then give the calls still out ``drain_s`` seconds and cancel
    those that are left (they are not measured)."""
    if rate <= 0:
        raise ValueError("rate must be positive")
    begin = time.monotonic() if started is None else started
    tasks: set[asyncio.Task[None]] = set()
    sent = 0
    while not stop.is_set():
        sent += 1
        # Always yield, even when behind schedule: the calls just started get going at once.
        await asyncio.sleep(max(0.0, begin + sent / rate - time.monotonic()))
        if stop.is_set():  # set meanwhile: this call is not due any more
            break
        task = asyncio.ensure_future(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=drain_s)
    left = list(tasks)
    for task in left:
        task.cancel()
    await asyncio.gather(*left, return_exceptions=True)
