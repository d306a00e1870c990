"""Load shedding as a client and an operator see it: past the in-flight limit a new request gets
503 with Retry-After and a problem+json body before anything happens, health checks still
answer, /readyz says not ready, and once the load passes requests succeed again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest

from clipfeed.api import create_app
from clipfeed.http.metrics import SHED_REQUESTS
from clipfeed.http.shedding import LAG_SAMPLE_S

pytestmark = [pytest.mark.parametrize("stack", ["embedded"], indirect=True),
              pytest.mark.settings(shed_max_in_flight=2)]
PASSWORD = "long enough pw"


def _registration(handle: str) -> dict[str, str]:
    return {"handle": handle, "email": f"{handle}@example.com", "password": PASSWORD}


async def _slow_body(handle: str, go_on: asyncio.Event) -> AsyncIterator[bytes]:
    """A registration whose body arrives in two parts, the second only when ``go_on`` is set:
    the request is in flight (a route is reading it) until then."""
    raw = orjson.dumps(_registration(handle))
    yield raw[:10]
    await go_on.wait()
    yield raw[10:]


async def test_past_the_in_flight_limit_new_requests_get_503_and_nothing_of_them_happens(*, services) -> None:
    app = create_app(services=services)
    go_on = asyncio.Event()
    shed_before = SHED_REQUESTS.labels("overloaded")._value.get()
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            slow = [asyncio.create_task(client.post(
                "/v1/auth/register", content=_slow_body(handle, go_on),
                headers={"content-type": "application/json"})) for handle in ("slow1", "slow2")]

            async def both_in_flight() -> bool:
                return app.state.load.in_flight == 2

            deadline = asyncio.get_running_loop().time() + 10
            while not await both_in_flight():
                assert asyncio.get_running_loop().time() < deadline, "the slow requests never started"
                await asyncio.sleep(0.02)

            refused = await client.post("/v1/auth/register", json=_registration("shed"))
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.headers["content-type"] == "application/problem+json"
            problem = refused.json()
            assert problem["status"] == 503 and problem["type"].endswith("/unavailable") and problem["detail"]
            assert (await client.get("/healthz")).status_code == 200
            assert (await client.get("/metrics")).status_code == 200
            ready = await client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["shedding"] == "overloaded"

            go_on.set()
            assert [r.status_code for r in await asyncio.gather(*slow)] == [201, 201]
            # The refused registration did nothing: the handle is free, and the retry succeeds.
            assert (await client.get("/v1/users/shed")).status_code == 404
            assert (await client.post("/v1/auth/register", json=_registration("shed"))).status_code == 201
            assert (await client.get("/readyz")).status_code == 200
    assert SHED_REQUESTS.labels("overloaded")._value.get() == shed_before + 1


@pytest.mark.settings(shed_max_in_flight=0, shed_max_loop_lag_ms=100)
async def test_a_lagging_event_loop_refuses_new_requests_until_it_catches_up(*, services) -> None:
    app = create_app(services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=30) as client:
            assert (await client.get("/v1/trending")).status_code == 200
            await asyncio.sleep(LAG_SAMPLE_S * 4)  # the sampler has a few samples
            time.sleep(0.3)  # one stall (a GC pause, say): not load, nothing is refused
            assert (await client.get("/v1/trending")).status_code == 200
            assert app.state.load.refusal() is None

            deadline = asyncio.get_running_loop().time() + 10
            while app.state.load.loop_lag_s < 0.1:  # stalls one after another: the loop lags
                assert asyncio.get_running_loop().time() < deadline, app.state.load
                await asyncio.sleep(LAG_SAMPLE_S / 2)  # the sampler takes its sample, then
                time.sleep(0.3)  # handlers block the loop, as CPU-bound work or a bug would
            lagging = await client.get("/v1/trending")
            assert lagging.status_code == 503 and lagging.headers["retry-after"] == "1"
            assert lagging.json()["status"] == 503
            assert (await client.get("/readyz")).json()["shedding"] == "lagging"
            assert (await client.get("/healthz")).status_code == 200

            async def caught_up() -> bool:
                return (await client.get("/v1/trending")).status_code == 200

            deadline = asyncio.get_running_loop().time() + 5
            while not await caught_up():
                assert asyncio.get_running_loop().time() < deadline, "still refused after the loop caught up"
                await asyncio.sleep(0.05)
