"""Liveness (``/healthz``: the process answers) and readiness (``/readyz``: every adapter
answers within a deadline, so a load balancer stops sending traffic to a broken instance)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from clipfeed.http.deps import Deps
from clipfeed.http.metrics import ADAPTER_ERRORS, exposition
from clipfeed.infra.breaker import BREAKERS
from clipfeed.runtime.services import Services

router = APIRouter(tags=["operations"])
CHECK_TIMEOUT_S = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _check(name: str, probe: Callable[[], Awaitable[None]]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
        return {"name": name, "ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:
        ADAPTER_ERRORS.labels(adapter=name).inc()
        reason = "timed out" if isinstance(exc, TimeoutError) else str(exc).splitlines()[0][:200]
        return {"name": name, "ok": False, "error": reason or type(exc).__name__}


async def readiness(*, services: Services) -> list[dict[str, Any]]:
    """Each adapter's answer to a ping (what ``/readyz`` and the admin console show).

    A database that refuses connections as a restarting server does, for less than
    ``CLIPFEED_DATABASE_RESTART_WAIT_S``, leaves the process ready: requests wait for it
    (``clipfeed.infra.db.restarts``), and a balancer that took every process out meanwhile (they
    share the database) would turn those waits into its own errors."""
    checks = list(await asyncio.gather(
        _check("database", services.db.ping), _check("blobs", services.blobs.ping),
        _check("cache", services.cache.ping), _check("event_log", services.log.ping)))
    if not checks[0]["ok"] and services.db.restarting():
        checks[0] = {**checks[0], "ok": True, "restarting": True}
    return checks


@router.get("/readyz")
async def readyz(services: Deps, request: Request) -> JSONResponse:
    load = getattr(request.app.state, "load", None)
    shedding = load.refusal() if load is not None else None
    # Draining: no need to ask the adapters; a load balancer must stop sending here at once.
    checks = [] if shedding == "draining" else await readiness(services=services)
    ready = shedding is None and all(c["ok"] for c in checks)
    body: dict[str, Any] = {"status": "ready" if ready else "unavailable", "checks": checks}
    if shedding is not None:
        body["shedding"] = shedding  # draining (SIGTERM), overloaded or lagging
    breakers = BREAKERS.not_closed()
    if breakers:
        # Detail only: a probe of the engine above decides readiness (an open cache breaker
        # leaves the instance serving, from the database).
        body["breakers"] = [{"engine": b.engine, "endpoint": b.endpoint, "state": b.state,
                             "retry_in_s": round(b.retry_in_s(), 1)} for b in breakers]
    return JSONResponse(body, status_code=200 if ready else 503,
                        headers=None if ready else {"Retry-After": "1" if shedding else "5"})


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)
