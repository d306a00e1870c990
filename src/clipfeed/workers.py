"""Worker roles: ``clipfeed worker <role>`` runs every processor and loop registered for it.

Features register here (a line each) so the CLI, the demo and the tests run the same set.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from clipfeed.bootstrap import Services
from clipfeed.core.consumers import Processor, run_processor
from clipfeed.delivery.worker import DELIVERY_LOOPS, PurgeProcessor
from clipfeed.http.idempotency import purge_loop as idempotency_purge
from clipfeed.lake.worker import compaction_loop, jobs_loop
from clipfeed.media.retranscode import RetranscodeProcessor
from clipfeed.media.worker import MEDIA_PROCESSORS
from clipfeed.notifications.worker import NotificationFanout
from clipfeed.recs.worker import RECS_PROCESSORS
from clipfeed.recs.worker import training_loop as recs_training_loop
from clipfeed.search.indexing import SEARCH_PROCESSORS
from clipfeed.search.semantic import SEMANTIC_PROCESSORS
from clipfeed.social.cleanup import SocialCleanup
from clipfeed.storage.worker import STORAGE_LOOPS
from clipfeed.stream.worker import STREAM_PROCESSORS, upkeep
from clipfeed.uploads import lifecycle as uploads_lifecycle

log = structlog.get_logger(__name__)

ProcessorFactory = Callable[[Services], Processor]
# A periodic or long-running job of a role: gets the services and a stop signal.
Loop = Callable[[Services, asyncio.Event], Coroutine[Any, Any, None]]

PROCESSORS: dict[str, list[ProcessorFactory]] = {"stream": [], "media": [], "batch": [], "lifecycle": []}
LOOPS: dict[str, list[Loop]] = {"stream": [], "media": [], "batch": [], "lifecycle": []}

LOOPS["lifecycle"].append(uploads_lifecycle.run)  # upload expiry and interrupted hand-offs
PROCESSORS["stream"] += STREAM_PROCESSORS  # counters, trending, live features (issue 8)
LOOPS["stream"].append(upkeep)  # topic retention, pruning of applied event IDs
LOOPS["batch"] += [compaction_loop, jobs_loop]  # Parquet lake, aggregates, training data
PROCESSORS["media"] += MEDIA_PROCESSORS  # probe, ladder, thumbnails, screening (issue 5)
PROCESSORS["media"].append(RetranscodeProcessor)  # renditions of cold clips popular again (issue 6)
PROCESSORS["stream"].append(PurgeProcessor)  # edge purges on takedowns (issue 6)
LOOPS["stream"] += DELIVERY_LOOPS["stream"]  # retries of unconfirmed purges (issue 6)
LOOPS["lifecycle"] += DELIVERY_LOOPS["lifecycle"] + STORAGE_LOOPS  # placement, tiers, replication (issue 6)
PROCESSORS["stream"] += RECS_PROCESSORS  # feed indexer and live feedback; LOOPS["batch"]: training (issue 9)
LOOPS["batch"].append(recs_training_loop)
PROCESSORS["stream"] += [NotificationFanout, SocialCleanup]  # inbox fan-out, account cleanup (issue 7)
LOOPS["lifecycle"].append(idempotency_purge)  # expired Idempotency-Key responses (issue 7)
PROCESSORS["stream"] += SEARCH_PROCESSORS  # search index freshness (issue 17)
PROCESSORS["media"] += SEMANTIC_PROCESSORS  # search's caption vectors: where the sentence model is loaded (issue 17)


def roles() -> list[str]:
    return [role for role in PROCESSORS if PROCESSORS[role] or LOOPS[role]]


async def run_role(services: Services, role: str, stop: asyncio.Event) -> None:
    """Run a role until ``stop`` is set."""
    if role not in PROCESSORS:
        raise ValueError(f"unknown worker role {role!r}; known: {', '.join(PROCESSORS)}")
    tasks = [asyncio.create_task(run_processor(factory(services), stop), name=f"{role}-processor")
             for factory in PROCESSORS[role]]
    tasks += [asyncio.create_task(loop(services, stop), name=f"{role}-loop") for loop in LOOPS[role]]
    log.info("worker.started", role=role, tasks=len(tasks))
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
