"""Prometheus metrics of the HTTP layer and the adapters (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUEST_SECONDS = Histogram(
    "clipfeed_http_request_duration_seconds", "HTTP request latency by route template",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
)
ADAPTER_ERRORS = Counter(
    "clipfeed_adapter_errors_total", "Failures talking to an infrastructure adapter", ["adapter"],
)
