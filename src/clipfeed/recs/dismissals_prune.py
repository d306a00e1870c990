"""Expired dismissals deleted (lifecycle role): a pass every hour over every shard database.

An expired row already filters nothing (readers ask for ``expires_at`` after now) and is
replaced by the next dismissal of the same subject, so pruning only keeps ``recs_dismissals``
from growing with rows nobody reads. Each shard is pruned in batches of ``BATCH`` rows, one short
transaction each (select the keys, delete those still expired), so a busy shard is never locked
for long and a PostgreSQL table is never scanned in one huge delete.

Idempotent and safe in several processes at once: deleting a row another pass deleted first
deletes nothing; a row renewed between the select and the delete is kept (the delete asks
again for ``expires_at`` before the pass began). Killed half-way: the batches committed stay
deleted, the one in hand rolls back, and the next pass (or another process) deletes the rest;
nothing a viewer sees depends on when that happens.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
import structlog
from prometheus_client import Counter

from clipfeed.recs.models import Dismissal

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
BATCH = 500
EVERY_S = 3600.0
PRUNED = Counter("clipfeed_dismissals_pruned_total", "Expired dismissal rows deleted")
_KEY = (Dismissal.user_id, Dismissal.kind, Dismissal.subject_id)


async def prune_expired(*, services: Services, batch: int = BATCH) -> int:
    """Delete the dismissals expired before now on every shard; returns how many went."""
    now = datetime.now(UTC)
    removed = 0
    for index in range(services.db.shard_count):
        while True:
            async with services.db.shard_session_at(index) as session:
                keys = [tuple(row) for row in (await session.execute(
                    sa.select(*_KEY).where(Dismissal.expires_at < now).limit(batch))).all()]
                deleted = 0
                if keys:
                    result = await session.execute(sa.delete(Dismissal).where(
                        sa.tuple_(*_KEY).in_(keys), Dismissal.expires_at < now))
                    deleted = int(getattr(result, "rowcount", 0) or 0)  # another pass may have been first
            removed += deleted
            PRUNED.inc(deleted)
            if len(keys) < batch:
                break
    return removed


async def prune_loop(stop: asyncio.Event, *, services: Services, every_s: float = EVERY_S) -> None:
    """Lifecycle loop: a pass every ``every_s`` seconds until ``stop``."""
    while not stop.is_set():
        try:
            removed = await prune_expired(services=services)
            if removed:
                log.info("dismissals.pruned", removed=removed)
        except Exception as exc:  # the next pass tries again
            log.warning("dismissals.prune_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
