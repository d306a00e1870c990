"""``Services``: the ports and runtime services of one process, as ``bootstrap`` wired them.

Defined below the features (they receive it) and built only by ``clipfeed.bootstrap``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import structlog

from clipfeed.core.ids import IdGenerator
from clipfeed.infra.blobs import BlobStore
from clipfeed.infra.cache import Cache
from clipfeed.infra.db import Database
from clipfeed.infra.log import EventLog
from clipfeed.runtime.live import LiveHub
from clipfeed.runtime.outbox import Outbox
from clipfeed.runtime.ratelimit import RateLimiter
from clipfeed.settings import Settings


@dataclass
class Services:
    settings: Settings
    ids: IdGenerator
    db: Database
    blobs: BlobStore
    cache: Cache
    log: EventLog
    outbox: Outbox
    limiter: RateLimiter
    live: LiveHub
    background: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def spawn(self, coro: object, name: str) -> None:
        """Run a background loop for the lifetime of these services, or a piece of follow-up
        work (an upload's clean-up) that may be lost: ``close`` cancels whatever still runs."""
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)  # type: ignore[arg-type]
        self.background.append(task)
        # Follow-up work ends by the thousand: a finished task leaves the list.
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self.background.remove(task)

    async def close(self) -> None:
        self.stopping.set()
        running = list(self.background)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await self.live.close()
        try:
            await self.outbox.flush()  # best effort: what stays is relayed by the next process
        except Exception as exc:
            structlog.get_logger(__name__).warning("outbox.flush_on_close_failed", error=str(exc))
        await self.log.close()
        await self.cache.close()
        await self.blobs.close()
        await self.db.close()


T_co = TypeVar("T_co", covariant=True)


class ServicesJob(Protocol[T_co]):
    """Work that needs only the services, handed to whoever builds them (a CLI command, a
    role's start-up). Like every service function, it takes them by keyword."""

    def __call__(self, *, services: Services) -> Awaitable[T_co]: ...
