"""The media job's hold on its clip, as the code deep in the pipeline sees it.

The worker takes the clip's lock (``media:lock:<id>``) and runs the job under it; a lock that
lapsed (a stalled process, a lease that ran out) means another worker may be doing the same job
now. The pipeline asks (``check``) before each step and right before the result is written,
so a job that lost its lock stops at its next step and never publishes.
The database write of the result is fenced as well (only a clip still ``processing`` takes one),
which is what finally guarantees a single result per job.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable


class LockLost(Exception):
    """The clip's lock is no longer ours: this job must stop without publishing."""


Check = Callable[[], Awaitable[None]]
_current: contextvars.ContextVar[Check | None] = contextvars.ContextVar("media_fence", default=None)


def hold(check: Check) -> contextvars.Token[Check | None]:
    """Make ``check`` the current job's fence (it raises ``LockLost`` when the lock is gone)."""
    return _current.set(check)


def release(token: contextvars.Token[Check | None]) -> None:
    _current.reset(token)


async def check() -> None:
    """Raise ``LockLost`` if the running job lost its lock (no fence outside a worker: tests
    and tools that run a job directly own the clip)."""
    fence = _current.get()
    if fence is not None:
        await fence()
