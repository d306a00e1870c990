"""The lifecycle role's storage loop: tier moves, then replication, every
``CLIPFEED_LIFECYCLE_INTERVAL_S``."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import structlog

from clipfeed.storage import lifecycle, replication

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
RESTORE_POLL_S = 5.0


async def storage_loop(stop: asyncio.Event, *, services: Services) -> None:
    """A full run every interval; restores asked for by cold reads are looked at more often
    (a run is cheap when nothing is due)."""
    last_full = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            if loop.time() - last_full >= services.settings.lifecycle_interval_s:
                report = await lifecycle.run(now=datetime.now(UTC), services=services)
                await replication.reconcile(services=services)
                last_full = loop.time()
                log.info("storage.lifecycle", moves=report.moves, swept=report.swept,
                         retranscodes=report.retranscodes, repaired=report.repaired)
            else:
                await lifecycle.restore_requested(now=datetime.now(UTC), services=services)
        except Exception as exc:
            log.warning("storage.lifecycle_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RESTORE_POLL_S)
