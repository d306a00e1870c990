"""The two engines that run the job definitions of ``jobs``: DuckDB in process (one machine)
and Spark (pyspark; ``local[*]`` here, a cluster master for operators who outgrow one box).

Both take local Parquet files and return one Arrow table per job. They are synchronous (call
them in a thread).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from clipfeed.lake import jobs


class Engine(Protocol):
    name: str

    def run(self, files: Sequence[Path], job_names: Sequence[str], from_day: date,
            to_day: date) -> dict[str, pa.Table]:
        """Run the named jobs over the events in ``files`` for days ``from_day``..``to_day``."""


class DuckDBEngine:
    name = "duckdb"

    def run(self, files: Sequence[Path], job_names: Sequence[str], from_day: date,
            to_day: date) -> dict[str, pa.Table]:
        import duckdb

        connection = duckdb.connect(":memory:")
        try:
            listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            connection.execute(f"CREATE TEMPORARY VIEW events_raw AS SELECT * FROM read_parquet([{listed}])")
            connection.execute(jobs.DEDUPED)
            return {name: connection.sql(jobs.render(name, from_day, to_day)).to_arrow_table()
                    for name in job_names}
        finally:
            connection.close()


class SparkEngine:
    """One Spark session per process, created on first use (start-up takes seconds)."""

    name = "spark"
    _session: Any = None
    _lock = threading.Lock()

    def __init__(self, master: str = "local[2]") -> None:
        self.master = master

    def session(self) -> Any:
        with self._lock:
            if SparkEngine._session is None:
                from pyspark.sql import SparkSession

                SparkEngine._session = (
                    SparkSession.builder.master(self.master).appName("clipfeed-lake")
                    .config("spark.ui.enabled", "false")
                    .config("spark.sql.session.timeZone", "UTC")
                    .config("spark.sql.shuffle.partitions", "4")
                    .config("spark.driver.memory", "1g")
                    .config("spark.sql.ansi.enabled", "false")
                    .config("spark.ui.showConsoleProgress", "false")
                    .getOrCreate())
                SparkEngine._session.sparkContext.setLogLevel("ERROR")
            return SparkEngine._session

    def run(self, files: Sequence[Path], job_names: Sequence[str], from_day: date,
            to_day: date) -> dict[str, pa.Table]:
        spark = self.session()
        spark.read.parquet(*(str(f) for f in files)).createOrReplaceTempView("events_raw")
        spark.sql(jobs.DEDUPED)
        return {name: spark.sql(jobs.render(name, from_day, to_day)).toArrow() for name in job_names}

    @classmethod
    def stop(cls) -> None:
        with cls._lock:
            if cls._session is not None:
                cls._session.stop()
                cls._session = None


def engine_named(name: str) -> Engine:
    if name == "duckdb":
        return DuckDBEngine()
    if name == "spark":
        return SparkEngine()
    raise ValueError(f"unknown lake engine {name!r} (use duckdb or spark)")
