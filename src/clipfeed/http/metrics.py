"""Prometheus metrics of the HTTP layer and the adapters (one registry per process).

With ``serve --processes N`` each serving process counts its own requests; a scrape reaches
one of them. So ``serve`` then runs prometheus_client in its multiprocess mode: it points
``PROMETHEUS_MULTIPROC_DIR`` at an emptied folder before the processes start, each process
writes its values to files there, and ``/metrics`` sums the files of all of them. A counter
is then the total over the processes and never goes down between scrapes. A gauge needs a
``multiprocess_mode``: ``clipfeed_breaker_state`` (``clipfeed.infra.breaker``) shows the
worst live process.
"""

from __future__ import annotations

import gc
import os
import shutil
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

# prometheus_client's own variable: it picks the value storage from it at import time.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUEST_SECONDS = Histogram(
    "clipfeed_http_request_duration_seconds", "HTTP request latency by route template",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
)
SHED_REQUESTS = Counter(
    "clipfeed_http_shed_requests_total", "Requests refused with 503 before any work, by why",
    ["reason"],  # overloaded (in flight), lagging (event loop), draining (SIGTERM)
)
GC_PAUSES = Histogram(
    "clipfeed_gc_pause_seconds", "Pauses of Python's cyclic garbage collector (every task of the process waits "
    "them out), by generation", ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
ADAPTER_ERRORS = Counter(
    "clipfeed_adapter_errors_total", "Failures talking to an infrastructure adapter", ["adapter"],
)


def share_between_processes(folder: Path) -> None:
    """Before serving processes start: an empty folder for their metric files (values a
    previous run left would otherwise be added in), named in the environment they inherit."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(folder)


def exposition() -> bytes:
    """The text ``/metrics`` answers: this process's registry, or every serving process's."""
    if not os.environ.get(MULTIPROC_ENV):
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


_collection_started: list[float] = []


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _collection_started[:] = [time.perf_counter()]
    elif _collection_started:
        GC_PAUSES.labels(str(info.get("generation", "?"))).observe(time.perf_counter() - _collection_started[0])


def time_collections() -> None:
    """Time every cyclic collection of this process (``clipfeed_gc_pause_seconds``): a full
    one walks every tracked object, and a request in flight waits for it."""
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)
