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

log = structlog.get_logger(__name__)

ProcessorFactory = Callable[[Services], Processor]
# A periodic or long-running job of a role: gets the services and a stop signal.
Loop = Callable[[Services, asyncio.Event], Coroutine[Any, Any, None]]

PROCESSORS: dict[str, list[ProcessorFactory]] = {"stream": [], "media": [], "batch": [], "lifecycle": []}
LOOPS: dict[str, list[Loop]] = {"stream": [], "media": [], "batch": [], "lifecycle": []}


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
