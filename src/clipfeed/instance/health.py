"""Service health for the admin console: the adapters' readiness (what ``/readyz`` checks) and,
per worker role, how far each of its consumer groups is behind on its topics (what
``clipfeed.stream.catchup`` measures for tests and tools)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from clipfeed.core.errors import NotFound
from clipfeed.infra.db import utcnow
from clipfeed.instance.models import ConsumerHealth, DependencyCheck, RoleHealth, ServiceHealth

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

# role -> [(consumer group, topics)], as ``clipfeed.workers.ROLES`` lists them.
RoleTable = dict[str, list[tuple[str, Sequence[str]]]]


async def consumer(*, services: Services, group: str, topic: str) -> ConsumerHealth:
    try:
        ends = await services.log.end_offsets(topic)
    except NotFound:
        return ConsumerHealth(group=group, topic=topic, started=True, pending=0, partitions_behind=0)
    try:
        committed = await services.log.committed(topic, group)
    except NotFound:
        return ConsumerHealth(group=group, topic=topic, started=False, pending=sum(ends.values()),
                              partitions_behind=sum(1 for end in ends.values() if end > 0))
    # Offsets may skip (JetStream; retention), so pending is an upper bound.
    gaps = [max(0, end - committed.get(partition, 0)) for partition, end in ends.items()]
    return ConsumerHealth(group=group, topic=topic, started=True,
                          pending=sum(gaps), partitions_behind=sum(1 for gap in gaps if gap))


async def report(*, services: Services, roles: RoleTable, checks: list[dict[str, object]]) -> ServiceHealth:
    in_process = set(services.settings.worker_roles_in_process(list(roles)))
    lines = []
    for name, groups in roles.items():
        consumers = await asyncio.gather(*(consumer(services=services, group=group, topic=topic)
                                           for group, topics in groups for topic in topics))
        lines.append(RoleHealth(name=name, in_this_process=name in in_process, consumers=list(consumers)))
    parsed = [DependencyCheck.model_validate(c) for c in checks]
    return ServiceHealth(ready=all(c.ok for c in parsed), checks=parsed, roles=lines, checked_at=utcnow())
