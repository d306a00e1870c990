"""The API while Redis is down (real stack, a throwaway Redis that is killed): requests answer
503 problem+json with Retry-After at once from the open breaker, ``/readyz`` names the open
breaker, and everything answers again once Redis is back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from clipfeed.infra.breaker import BREAKERS, BreakerPolicy
from tests import services as engines
from tests.conftest import stack_settings
from tests.helpers import signup


@pytest.fixture
def throwaway_redis() -> Iterator[engines.ThrowawayRedis]:
    with engines.throwaway_redis() as server:
        yield server


@pytest.fixture
async def outage_client(tmp_path, request: pytest.FixtureRequest, sqlite_template,
                        throwaway_redis: engines.ThrowawayRedis) -> AsyncIterator[httpx.AsyncClient]:
    from clipfeed.api import create_app
    from clipfeed.bootstrap import bootstrap

    settings = stack_settings("real", tmp_path, request, cache_url=f"{throwaway_redis.url}/0",
                              breaker_failures=3, breaker_open_s=0.3)
    services = await bootstrap(settings)
    app = create_app(services=services)
    try:
        async with (app.router.lifespan_context(app),
                    httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http):
            yield http
    finally:
        BREAKERS.configure(BreakerPolicy())
        await services.close()


async def test_with_redis_down_the_api_answers_503_from_the_open_breaker_and_recovers(
        outage_client: httpx.AsyncClient, throwaway_redis: engines.ThrowawayRedis) -> None:
    viewer = await signup(outage_client, "viewer")
    assert (await outage_client.get("/v1/feed", headers=viewer.auth)).status_code == 200
    breaker = BREAKERS.get("redis", f"{throwaway_redis.url}/0")
    throwaway_redis.stop()

    answers = [await outage_client.get("/v1/feed", headers=viewer.auth) for _ in range(6)]
    assert breaker.state == "open"
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert int(answer.headers["Retry-After"]) >= 1
    assert "circuit breaker open" in answers[-1].json()["detail"]
    ready = await outage_client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["breakers"] == [{"engine": "redis", "endpoint": f"{throwaway_redis.url}/0",
                                         "state": "open", "retry_in_s": ready.json()["breakers"][0]["retry_in_s"]}]

    throwaway_redis.start()  # empty, as after a lost Redis: sessions live in the database
    for _ in range(100):
        page = await outage_client.get("/v1/feed", headers=viewer.auth)
        if page.status_code == 200:
            break
        await asyncio.sleep(0.05)  # the breaker's open interval (0.3 s) has to pass first
    assert page.status_code == 200, page.text
    assert breaker.state == "closed"
    assert "breakers" not in (await outage_client.get("/readyz")).json()
