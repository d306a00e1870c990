"""Timeouts, retries and circuit breakers of the engine adapters, against real engines: a
throwaway Redis that is killed and started again, SeaweedFS and PostgreSQL behind a TCP proxy
(``tests/tcp_proxy.py``) that drops connections or stops answering."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest
import redis.asyncio as redis
from sqlalchemy.exc import OperationalError

from clipfeed.core.errors import Unavailable
from clipfeed.infra.blobs.s3 import S3BlobStore
from clipfeed.infra.breaker import BREAKERS, BreakerOpen, BreakerPolicy
from clipfeed.infra.cache import open_cache
from clipfeed.infra.db import Database
from tests import services as engines
from tests.tcp_proxy import TcpProxy

QUICK = BreakerPolicy(failures=3, open_s=0.3)
LONG = BreakerPolicy(failures=3, open_s=600.0)  # stays open for the whole test


@pytest.fixture
def throwaway_redis() -> Iterator[engines.ThrowawayRedis]:
    with engines.throwaway_redis() as server:
        yield server


async def _proxy(port: int) -> TcpProxy:
    return await TcpProxy(port).start()


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    proxy = await _proxy(urlsplit(redis_url).port or 6379)
    yield proxy
    await proxy.close()


def _opened_by_breaker(exc: BaseException) -> bool:
    return isinstance(exc.__cause__, BreakerOpen)


async def test_a_redis_node_that_stops_answering_opens_its_breaker_and_calls_then_fail_without_reaching_it(
    redis_proxy: TcpProxy,
) -> None:
    cache = open_cache(f"redis://127.0.0.1:{redis_proxy.port}/15?socket_timeout=0.3")
    breaker = BREAKERS.get("redis", f"redis://127.0.0.1:{redis_proxy.port}/15", LONG)
    try:
        await cache.set("k", b"v")
        redis_proxy.mode = "blackhole"
        redis_proxy.cut()
        for _ in range(LONG.failures):  # each attempt waits out the socket timeout
            with pytest.raises(Unavailable):
                await cache.get("k")
        assert breaker.state == "open" and breaker.opened == 1
        reached = redis_proxy.connections
        for _ in range(20):
            with pytest.raises(Unavailable) as refused:
                await cache.get("k")
            assert _opened_by_breaker(refused.value)
            assert refused.value.headers["Retry-After"] != "0"
        assert redis_proxy.connections == reached  # not one more connection was tried
    finally:
        await cache.close()


async def test_the_breaker_closes_once_a_killed_redis_is_back(throwaway_redis: engines.ThrowawayRedis) -> None:
    url = f"{throwaway_redis.url}/0"
    cache = open_cache(url)
    breaker = BREAKERS.get("redis", url, QUICK)
    try:
        await cache.set("k", b"v")
        throwaway_redis.stop()
        refused = 0
        for _ in range(10):
            with pytest.raises(Unavailable) as failed:
                await cache.get("k")
            refused += _opened_by_breaker(failed.value)
        assert refused > 0 and breaker.state == "open"
        throwaway_redis.start()  # empty: it kept nothing, as a cache may
        for _ in range(100):  # the breaker lets a trial through once open_s has passed
            try:
                assert await cache.get("k") is None
                break
            except Unavailable:
                await asyncio.sleep(0.05)
        assert breaker.state == "closed"
        await cache.set("k", b"back")
        assert await cache.get("k") == b"back"
    finally:
        await cache.close()


async def test_a_read_is_retried_over_a_dropped_connection_but_an_increment_is_not(
    redis_proxy: TcpProxy, redis_url: str
) -> None:
    prefix = f"retry-{uuid.uuid4().hex[:8]}:"
    cache = open_cache(f"redis://127.0.0.1:{redis_proxy.port}/15?prefix={prefix}")
    direct = redis.Redis.from_url(f"{redis_url}/15")
    try:
        await cache.set("k", b"v")
        await cache.incr("n")

        redis_proxy.cut()  # the server "restarted" under the pooled connection ...
        redis_proxy.drop_next = 1  # ... and the first new connection breaks too
        before = redis_proxy.connections
        assert await cache.get("k") == b"v"
        # The stale pooled connection failed, the first new one was dropped, the next one answered.
        assert redis_proxy.connections - before == 2

        redis_proxy.cut()
        before = redis_proxy.connections
        with pytest.raises(Unavailable):
            await cache.incr("n")
        assert redis_proxy.connections == before  # no second attempt: the first may have been applied
        assert int(await direct.get(f"{prefix}n") or 0) == 1
        assert await cache.incr("n") == 2  # the next call gets a new connection
    finally:
        await cache.flush()
        await cache.close()
        await direct.aclose()


async def test_a_burst_that_keeps_every_pooled_connection_busy_is_refused_without_opening_the_breaker(
    redis_url: str,
) -> None:
    """Waiting for a free connection of this process's own pool is a backlog here, not an outage
    of the node: it answers 503 "busy" and must not shut the node out for every other caller."""
    url = f"{redis_url}/15"
    cache = open_cache(f"{url}?prefix=busy-{uuid.uuid4().hex[:8]}:&max_connections=1&timeout=0.2")
    breaker = BREAKERS.get("redis", url, LONG)
    try:
        await cache.set("k", b"v")
        pool = next(iter(cache._nodes.values())).connection_pool  # type: ignore[attr-defined]
        held = await pool.get_connection()  # a call in flight holds the only connection
        for _ in range(LONG.failures + 2):
            with pytest.raises(Unavailable) as refused:
                await cache.get("k")
            assert "cache busy" in str(refused.value) and refused.value.headers["Retry-After"] == "1"
        assert breaker.state == "closed" and breaker.opened == 0
        await pool.release(held)
        assert await cache.get("k") == b"v"
    finally:
        await cache.flush()
        await cache.close()


async def test_an_s3_read_survives_a_dropped_connection_and_a_dead_endpoint_opens_the_breaker(s3_endpoint: str) -> None:
    proxy = await _proxy(urlsplit(s3_endpoint).port or 80)
    endpoint = f"http://127.0.0.1:{proxy.port}"
    store = S3BlobStore.from_url(
        f"s3://breakers-{uuid.uuid4().hex[:8]}?endpoint={endpoint}&region=us-east-1"
        "&access_key=test&secret_key=test&read_timeout=0.5"
    )
    store.breaker.policy = LONG
    try:
        await store.put("clip/a.bin", b"content")
        proxy.cut()
        proxy.drop_next = 1
        before = proxy.connections
        assert await store.get("clip/a.bin") == b"content"  # botocore retried the GET
        assert proxy.connections - before >= 2

        proxy.mode = "blackhole"
        proxy.cut()
        for _ in range(LONG.failures):
            with pytest.raises(Unavailable):
                await store.get("clip/a.bin")
        reached = proxy.connections
        for _ in range(10):
            with pytest.raises(Unavailable) as refused:
                await store.stat("clip/a.bin")
            assert _opened_by_breaker(refused.value)
        assert proxy.connections == reached
    finally:
        await store.close()
        await proxy.close()


async def test_a_database_that_cannot_be_reached_opens_its_breaker(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    proxy = await _proxy(parts.port or 5432)
    url = postgres_url.replace(
        parts.netloc, f"{parts.netloc.rsplit('@', 1)[0] + '@' if '@' in parts.netloc else ''}127.0.0.1:{proxy.port}"
    )
    db = Database(url, pool_size=2)
    breaker = BREAKERS.get("postgresql", db.engine.url.render_as_string(hide_password=True), LONG)
    try:
        await db.ping()
        proxy.cut()
        await proxy.close()  # nothing listens there any more
        for _ in range(LONG.failures):
            with pytest.raises(OperationalError) as failed:
                await db.ping()
            assert "circuit breaker open" not in str(failed.value)
        assert breaker.state == "open"
        with pytest.raises(OperationalError, match="circuit breaker open"):
            await db.ping()
    finally:
        await db.close()


async def test_appends_fail_at_once_once_the_nats_breaker_is_open(nats_url: str) -> None:
    from clipfeed.infra.log.jetstream.log import JetStreamEventLog

    proxy = await _proxy(urlsplit(nats_url).port or 4222)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    log = await JetStreamEventLog.open(f"nats://127.0.0.1:{proxy.port}?prefix={prefix}")
    log.breaker.policy = LONG
    try:
        await log.append("breakers.test", b"one")
        await proxy.close()  # the connection drops and nothing listens there any more
        for _ in range(100):  # until the client has noticed
            if not log.nc.is_connected:
                break
            await asyncio.sleep(0.05)
        for _ in range(LONG.failures):
            with pytest.raises(Unavailable):
                await log.ping()
        assert log.breaker.state == "open"
        with pytest.raises(Unavailable) as refused:
            await log.append("breakers.test", b"two")  # otherwise: 3 attempts of 5 s each
        assert _opened_by_breaker(refused.value)
    finally:
        await log.close()
        await engines.drop_jetstream_streams(nats_url, prefix=prefix)
