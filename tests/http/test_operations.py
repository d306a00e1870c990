"""Operator-facing endpoints and failure behaviour."""

from __future__ import annotations

import time

import httpx
import pytest

from clipfeed.api import create_app
from clipfeed.bootstrap import bootstrap
from clipfeed.settings import Settings
from tests.helpers import assert_problem, signup


async def test_health_readiness_openapi_and_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert {c["name"] for c in ready.json()["checks"]} == {"database", "blobs", "cache", "event_log"}
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/auth/register" in spec["paths"] and "/v1/clips/{clip_id}" in spec["paths"]
    assert "swagger" in (await client.get("/docs")).text.lower()


async def test_request_ids_are_echoed_or_generated(client: httpx.AsyncClient) -> None:
    mine = await client.get("/healthz", headers={"X-Request-ID": "trace-123"})
    assert mine.headers["x-request-id"] == "trace-123"
    generated = await client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"
    problem = await client.get("/v1/clips/1", headers={"X-Request-ID": "trace-456"})
    assert problem.json()["request_id"] == "trace-456"


async def test_metrics_expose_latency_per_route_template(client: httpx.AsyncClient) -> None:
    alice = await signup(client, "metrics_user")
    await client.get("/v1/me", headers=alice.auth)
    text = (await client.get("/metrics")).text
    lines = [line for line in text.splitlines()
             if line.startswith("clipfeed_http_request_duration_seconds_count")
             and 'route="/v1/me"' in line and 'status="200"' in line]
    assert lines and float(lines[0].rsplit(" ", 1)[1]) >= 1


@pytest.mark.parametrize("broken", ["database", "cache"])
async def test_a_dead_dependency_gives_503_with_retry_after_not_a_hang(tmp_path, broken: str) -> None:
    overrides = {"database": {"database_url": "postgresql://postgres@127.0.0.1:1/gone"},
                 "cache": {"cache_url": "redis://127.0.0.1:1/0"}}[broken]
    settings = Settings(data_dir=tmp_path, log_json=False, **overrides)
    if broken == "cache":
        from clipfeed.infra.db.migrate import upgrade

        upgrade(settings.resolve(settings.database_url))
    services = await bootstrap(settings)
    app = create_app(services=services)
    try:
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            started = time.monotonic()
            ready = await http.get("/readyz")
            assert ready.status_code == 503 and ready.headers["retry-after"]
            failing = [c["name"] for c in ready.json()["checks"] if not c["ok"]]
            assert failing == [broken]
            login = await http.post("/v1/auth/login", json={"login": "x", "password": "y"})
            assert_problem(login, 503)
            assert login.headers["retry-after"]
            assert time.monotonic() - started < 12
    finally:
        await services.close()


def test_full_garbage_collections_are_timed_once_a_process_asks() -> None:
    import gc

    from clipfeed.http.metrics import GC_PAUSES, time_collections

    def full_passes() -> float:
        return next((sample.value for metric in GC_PAUSES.collect() for sample in metric.samples
                     if sample.name.endswith("_count") and sample.labels == {"generation": "2"}), 0.0)

    time_collections()
    time_collections()  # once only, however often it is asked
    before = full_passes()
    gc.collect()
    assert full_passes() == before + 1
