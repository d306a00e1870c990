"""Purging edge caches, with three urgencies (docs/design/delivery.md, "Purge"):

* ``immediate`` (takedowns: a clip deleted, rejected or held for review): every edge of every
  region is called at once and the caller waits for their answers; an edge that fails is
  retried every few seconds until it confirms. The origin refuses the clip from the moment the
  decision commits, so an edge that has not purged yet can serve only what it already holds.
* ``soon`` (visibility changes, renditions dropped or re-created): queued; the purge loop calls
  the edges within a couple of seconds, with the same retries.
* ``lazy`` (an edited cover): nothing is purged. Image URLs carry ``?v=`` with the clip's
  version, so new responses point at new cache entries, and old ones expire by their TTL.

Each edge's share is a row written before any edge is called, so a purge outlives a process
killed half-way: the loop of any worker picks up what is not confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx
import orjson
import sqlalchemy as sa
import structlog

from clipfeed.delivery.edge_routing import EdgeDirectory
from clipfeed.delivery.models import PurgeResult, PurgeTask, Urgency
from clipfeed.delivery.purge_agent import SIGNATURE_HEADER, sign
from clipfeed.infra.db import utcnow

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
CALL_TIMEOUT_S = 5.0
LOOP_INTERVAL_S = 2.0
KEEP_DONE = timedelta(days=7)


async def purge(*, services: Services, prefixes: list[str], urgency: Urgency, reason: str = "") -> PurgeResult:
    purge_id = services.ids.next_id()
    edges = EdgeDirectory.from_settings(services.settings).all_edges()
    if urgency is Urgency.lazy or not edges:
        return PurgeResult(purge_id=str(purge_id), urgency=urgency, edges=0, confirmed=0, pending=0, removed=0)
    tasks = [PurgeTask(id=services.ids.next_id(), purge_id=purge_id, edge=edge, prefixes=prefixes,
                       urgency=urgency.value, reason=reason[:200]) for edge in edges]
    async with services.db.session() as session:
        session.add_all(tasks)
    if urgency is Urgency.immediate:
        await _attempt([t.id for t in tasks], services=services)
    return await status(services=services, purge_id=purge_id, urgency=urgency)


async def status(*, services: Services, purge_id: int, urgency: Urgency) -> PurgeResult:
    async with services.db.session() as session:
        rows = list(await session.scalars(sa.select(PurgeTask).where(PurgeTask.purge_id == purge_id)))
    confirmed = [r for r in rows if r.done_at is not None]
    return PurgeResult(purge_id=str(purge_id), urgency=urgency, edges=len(rows), confirmed=len(confirmed),
                       pending=len(rows) - len(confirmed), removed=sum(r.removed for r in confirmed))


async def call_edge(*, secret: str, edge: str, prefixes: list[str], client: httpx.AsyncClient) -> int:
    """Ask one edge's purge agent to drop ``prefixes``; the number of cache entries removed."""
    body = orjson.dumps({"prefixes": prefixes, "issued_at": time.time()})
    response = await client.post(f"{edge}/_edge/purge", content=body, timeout=CALL_TIMEOUT_S,
                                 headers={SIGNATURE_HEADER: sign(secret, body), "Content-Type": "application/json"})
    response.raise_for_status()
    return int(response.json().get("removed", 0))


async def _attempt(task_ids: list[int], *, services: Services) -> None:
    async with services.db.session() as session:
        tasks = list(await session.scalars(sa.select(PurgeTask).where(PurgeTask.id.in_(task_ids),
                                                                      PurgeTask.done_at.is_(None))))
    if not tasks:
        return
    secret = services.settings.edge_purge_secret
    async with httpx.AsyncClient() as client:
        outcomes = await asyncio.gather(*(call_edge(secret=secret, edge=t.edge, prefixes=list(t.prefixes),
                                                    client=client) for t in tasks), return_exceptions=True)
    now = utcnow()
    async with services.db.session() as session:
        for task, outcome in zip(tasks, outcomes, strict=True):
            row = await session.get(PurgeTask, task.id)
            if row is None or row.done_at is not None:
                continue
            row.attempts += 1
            if isinstance(outcome, BaseException):
                row.last_error = f"{type(outcome).__name__}: {outcome}"[:500]
                row.next_attempt_at = now + timedelta(seconds=min(60, 2 ** row.attempts))
                log.warning("delivery.purge_failed", edge=row.edge, attempts=row.attempts, error=row.last_error)
            else:
                row.removed, row.done_at, row.last_error = outcome, now, None
                log.info("delivery.purged", edge=row.edge, prefixes=row.prefixes, removed=outcome,
                         urgency=row.urgency)


async def run_pending(*, services: Services, limit: int = 200) -> int:
    """Call the edges of every due, unconfirmed purge once; returns how many were due."""
    async with services.db.session() as session:
        due = list(await session.scalars(sa.select(PurgeTask.id).where(
            PurgeTask.done_at.is_(None), PurgeTask.next_attempt_at <= utcnow()).order_by(PurgeTask.id).limit(limit)))
    if due:
        await _attempt(due, services=services)
    async with services.db.session() as session:  # confirmed purges are kept a week for the record
        await session.execute(sa.delete(PurgeTask).where(PurgeTask.done_at < utcnow() - KEEP_DONE))
    return len(due)


async def purge_loop(stop: asyncio.Event, *, services: Services) -> None:
    while not stop.is_set():
        try:
            await run_pending(services=services)
        except Exception as exc:  # a database blip: try again next round
            log.warning("delivery.purge_loop_failed", error=str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), LOOP_INTERVAL_S)
