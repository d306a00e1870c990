"""Worker roles: ``clipfeed worker <role>`` runs every processor and loop listed for it here.

One table, read by the CLI, the demo (in-process workers) and the tests, so all run the same set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

import structlog

from clipfeed.delivery import purge
from clipfeed.delivery.placement import placement_loop
from clipfeed.delivery.worker import PurgeProcessor
from clipfeed.federation.apply import InboxWorker
from clipfeed.federation.deliveries import delivery_loop
from clipfeed.federation.inbox import prune_loop as received_prune_loop
from clipfeed.federation.outbox import OutboxWorker
from clipfeed.http.idempotency import purge_loop as idempotency_purge_loop
from clipfeed.lake.worker import compaction_loop, jobs_loop
from clipfeed.media.chunks import ChunkProcessor
from clipfeed.media.retranscode import RetranscodeProcessor
from clipfeed.media.sounds import library_loop
from clipfeed.media.warmup import warm_models_loop
from clipfeed.media.worker import MediaProcessor
from clipfeed.notifications.worker import NotificationFanout
from clipfeed.recs.dismissals_prune import prune_loop as dismissals_prune_loop
from clipfeed.recs.worker import RECS_LOOPS, RECS_PROCESSORS
from clipfeed.recs.worker import training_loop as recs_training_loop
from clipfeed.runtime.consumers import Processor, run_processor
from clipfeed.runtime.services import Services
from clipfeed.search.indexing import SEARCH_PROCESSORS
from clipfeed.search.semantic import SEMANTIC_PROCESSORS
from clipfeed.social.cleanup import SocialCleanup
from clipfeed.storage.worker import storage_loop
from clipfeed.stream.worker import STREAM_PROCESSORS, upkeep
from clipfeed.uploads import lifecycle as uploads_lifecycle

log = structlog.get_logger(__name__)

ProcessorFactory = Callable[[Services], Processor]


class Loop(Protocol):
    """A periodic or long-running job of a role: runs until ``stop`` is set."""

    def __call__(self, stop: asyncio.Event, /, *, services: Services) -> Coroutine[Any, Any, None]: ...


class Role:
    def __init__(self, processors: list[ProcessorFactory], loops: list[Loop]) -> None:
        self.processors = processors
        self.loops = loops


ROLES: dict[str, Role] = {
    # Probe, ladder, thumbnails, screening; chunks of long clips; renditions of cold clips
    # popular again; search's caption vectors (where the sentence model is loaded). Loops: the
    # models loaded at start, the sound library made once where FFmpeg is.
    "media": Role(processors=[MediaProcessor, ChunkProcessor, RetranscodeProcessor, *SEMANTIC_PROCESSORS],
                  loops=[warm_models_loop, library_loop]),
    # Counters, trending and live features; the feed and search indexers, live feedback; edge purges on
    # takedowns; inbox fan-out; account cleanup. Loops: topic retention and pruning, retries
    # of unconfirmed purges, the feed's clip cards checked (and rebuilt when the cache lost them).
    "stream": Role(processors=[*STREAM_PROCESSORS, *RECS_PROCESSORS, *SEARCH_PROCESSORS, PurgeProcessor,
                               NotificationFanout, SocialCleanup],
                   loops=[upkeep, purge.purge_loop, *RECS_LOOPS]),
    # The Parquet lake and its aggregates, training data, the ranker's training.
    "batch": Role(processors=[], loops=[compaction_loop, jobs_loop, recs_training_loop]),
    # Upload expiry and interrupted hand-offs, regional placement, storage tiers and
    # replication, expired Idempotency-Key responses and For You dismissals.
    # ActivityPub: activities received applied, local events turned into activities, their
    # delivery to remote inboxes with retries; received activity IDs forgotten once stale.
    "federation": Role(processors=[InboxWorker, OutboxWorker], loops=[delivery_loop, received_prune_loop]),
    "lifecycle": Role(processors=[], loops=[uploads_lifecycle.run, placement_loop, storage_loop,
                                            idempotency_purge_loop, dismissals_prune_loop]),
}


def roles() -> list[str]:
    return list(ROLES)


async def run_role(role: str, stop: asyncio.Event, *, services: Services) -> None:
    """Run a role until ``stop`` is set."""
    if role not in ROLES:
        raise ValueError(f"unknown worker role {role!r}; known: {', '.join(ROLES)}")
    tasks = [asyncio.create_task(run_processor(factory(services), stop), name=f"{role}-processor")
             for factory in ROLES[role].processors]
    tasks += [asyncio.create_task(loop(stop, services=services), name=f"{role}-loop") for loop in ROLES[role].loops]
    log.info("worker.started", role=role, tasks=len(tasks))
    try:
        await stop.wait()
    finally:
        # Processors check the signal between batches: let them finish the one in hand (a task
        # cancelled inside a write transaction can leave an embedded store locked for a while),
        # then cancel what is still running; a cancelled processor closes its consumers, which
        # hands their records back at once, so another worker takes them now rather than after
        # their lease. Killed before that (SIGKILL), the lease runs out instead.
        stop.set()
        _done, running = await asyncio.wait(tasks, timeout=services.settings.worker_stop_grace_s)
        for task in running:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
