"""The batch role's loops (registered in ``clipfeed.workers``): compaction into the lake, and
the jobs over it for the days that got new parts (plus today) every few minutes."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, date, datetime, timedelta

import structlog

from clipfeed.infra.log import Consumer
from clipfeed.lake import compaction, service
from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
JOBS_LOCK = "lake:jobs:lock"


async def compaction_loop(stop: asyncio.Event, *, services: Services) -> None:
    consumer: Consumer | None = None
    while not stop.is_set():
        try:
            if consumer is None:
                consumer = await compaction.open_consumer(services=services)
            written = await compaction.compact_once(consumer, services=services, stop=stop)
            if written:
                log.info("lake.compacted", events=written)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("lake.compaction_failed", error=str(exc))
            if consumer is not None:
                with contextlib.suppress(Exception):
                    await consumer.close()
            consumer = None
            await asyncio.sleep(1.0)
    if consumer is not None:
        with contextlib.suppress(Exception):
            await consumer.close()


async def run_due_jobs(*, services: Services, engine: str | None = None) -> list[service.JobReport]:
    """Recompute the days that got new parts since the last run, and today. One runner at a
    time across workers (a lock in the cache)."""
    interval = services.settings.lake_jobs_interval_s
    if not await services.cache.add(JOBS_LOCK, b"1", ttl=max(60.0, 2 * interval)):
        return []
    try:
        dirty = await services.cache.ztop(compaction.DIRTY_KEY, 1000)
        today = datetime.now(UTC).date()
        days = sorted({date.fromisoformat(day) for day, _ in dirty} | {today})
        if dirty:  # taken off first: parts landing during the run mark their day again
            await services.cache.zrem(compaction.DIRTY_KEY, *(day for day, _ in dirty))
        reports = []
        # Contiguous runs of days go in one job each (one staging, one engine run).
        start = previous = days[0]
        for day in [*days[1:], None]:
            if day is not None and day == previous + timedelta(days=1):
                previous = day
                continue
            try:
                report, _ = await service.run_jobs(services=services, from_day=start, to_day=previous, engine=engine)
            except Exception:
                await services.cache.zadd(compaction.DIRTY_KEY, {d.isoformat(): 0.0 for d in days if d != today})
                raise
            reports.append(report)
            if day is not None:
                start = previous = day
        return reports
    finally:
        await services.cache.delete(JOBS_LOCK)


async def jobs_loop(stop: asyncio.Event, *, services: Services) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), services.settings.lake_jobs_interval_s)
        if stop.is_set():
            return
        try:
            for report in await run_due_jobs(services=services):
                log.info("lake.jobs_done", engine=report.engine, days=f"{report.from_day}..{report.to_day}",
                         files=report.files, rows=report.rows, seconds=round(report.seconds, 2))
        except Exception as exc:
            log.warning("lake.jobs_failed", error=str(exc))
