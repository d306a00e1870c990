"""One job definition, two engines: DuckDB and Spark give identical results on the same lake
sample (one Spark session for the module; embedded stack, the engines read local files)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from clipfeed.lake import jobs, service
from clipfeed.lake.engines import DuckDBEngine, SparkEngine
from tests.lake.golden_lake import golden_lake

pytestmark = pytest.mark.slow


@pytest.fixture
def stack() -> str:
    return "embedded"


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    engine = SparkEngine(master="local[2]")
    engine.session()
    yield engine
    SparkEngine.stop()


def _rows(table, job: str) -> list[dict]:
    keys = jobs.ORDER[job]
    return sorted(table.to_pylist(), key=lambda row: tuple(str(row[k]) for k in keys))


async def test_duckdb_and_spark_compute_identical_aggregates(client, services, spark: SparkEngine) -> None:
    scenario = await golden_lake(client, services)
    day = datetime.fromtimestamp(scenario.base, UTC).date()
    _, by_duckdb = await service.run_jobs(services=services, from_day=day, to_day=day, engine=DuckDBEngine(),
                                          store=False)
    _, by_spark = await service.run_jobs(services=services, from_day=day, to_day=day, engine=spark, store=False)
    assert set(by_duckdb) == set(by_spark) == set(jobs.JOBS)
    for job in jobs.JOBS:
        assert by_duckdb[job].column_names == by_spark[job].column_names, job
        duck, sparked = _rows(by_duckdb[job], job), _rows(by_spark[job], job)
        assert duck, f"{job} produced nothing to compare"
        assert duck == sparked, job
