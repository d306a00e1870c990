"""Running the batch jobs: stage the needed Parquet parts locally, run an engine, store the
results (analytics tables for the API, training data and hourly aggregates in the lake).

Killed half-way: each output is replaced whole per day (a transaction per table for the
analytics tables, an atomic put per file in the lake), so a rerun of the same days is the
repair.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from clipfeed.analytics import service as analytics_service
from clipfeed.lake import jobs
from clipfeed.lake.engines import Engine, engine_named
from clipfeed.lake.layout import AGGREGATES_PREFIX, EVENT_SCHEMA, TRAINING_PREFIX, day_prefix, output_key

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services


@dataclass
class JobReport:
    engine: str
    from_day: date
    to_day: date
    files: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


async def stage(first: date, last: date, directory: Path, *, services: Services) -> list[Path]:
    """Copy the event parts of ``first``..``last`` into ``directory``."""
    files: list[Path] = []
    for day in days_between(first, last):
        async for info in services.blobs.list(day_prefix(day)):
            if not info.key.endswith(".parquet"):
                continue
            target = directory / info.key.replace("/", "__")
            await services.blobs.download(info.key, target)
            files.append(target)
    if not files:  # engines need a file to know the columns
        empty = directory / "empty.parquet"
        pq.write_table(pa.Table.from_pylist([], schema=EVENT_SCHEMA), empty)
        files.append(empty)
    return files


async def run_jobs(*, services: Services, from_day: date, to_day: date, engine: Engine | str | None = None,
                   store: bool = True) -> tuple[JobReport, dict[str, pa.Table]]:
    """Run every job for ``from_day``..``to_day`` and (by default) store the results."""
    chosen = engine if engine is not None and not isinstance(engine, str) else engine_named(
        engine or services.settings.lake_engine)
    started = time.perf_counter()
    directory = Path(tempfile.mkdtemp(prefix="clipfeed-lake-"))
    try:
        files = await stage(from_day - timedelta(days=jobs.HISTORY_DAYS), to_day, directory, services=services)
        results = await asyncio.to_thread(chosen.run, files, list(jobs.JOBS), from_day, to_day)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    report = JobReport(engine=chosen.name, from_day=from_day, to_day=to_day,
                       files=len([f for f in files if f.name != "empty.parquet"]),
                       rows={name: table.num_rows for name, table in results.items()})
    if store:
        await analytics_service.replace_days(
            db=services.db, from_day=from_day, to_day=to_day, daily=results["clip_daily"].to_pylist(),
            breakdown=results["clip_breakdown"].to_pylist(), dropoff=results["clip_dropoff"].to_pylist(),
            followers=results["follower_growth"].to_pylist())
        for day in days_between(from_day, to_day):
            await _put_day(TRAINING_PREFIX, day, results["training"], services=services)
            await _put_day(f"{AGGREGATES_PREFIX}clip_hourly/", day, results["clip_hourly"], services=services)
    report.seconds = time.perf_counter() - started
    return report, results


async def _put_day(prefix: str, day: date, table: pa.Table, *, services: Services) -> None:
    rows = table.filter(pc.equal(table["day"], day.isoformat())) if table.num_rows else table
    buffer = io.BytesIO()
    pq.write_table(rows, buffer, compression="zstd")
    await services.blobs.put(output_key(prefix, day.isoformat()), buffer.getvalue(),
                             content_type="application/vnd.apache.parquet")


async def read_training(*, services: Services, day: date) -> pa.Table:
    """The training rows of a day (one per impression; docs/design/lake.md, "Training data", lists the columns)."""
    return pq.read_table(io.BytesIO(await services.blobs.get(output_key(TRAINING_PREFIX, day.isoformat()))))
