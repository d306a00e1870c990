"""One Redis of a two-node ring stopped while calls run through the cache port: no error reaches
the caller, the stopped node's keys are served by the other (starting empty, with a short TTL),
and the node's return is picked up; a node that comes back with its data (paused, or cut off)
serves none of what it held before, in any process that routed around it. Two throwaway
servers (``tests/services.py``), killed, paused or cut off behind a proxy
(``tests/tcp_proxy.py``); the machine's shared Redis is never stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import redis.asyncio as redis

from clipfeed.infra.breaker import BREAKERS, BreakerPolicy, Breakers
from clipfeed.infra.cache import Cache, Write, open_cache
from clipfeed.infra.cache.failover import REHOMED_TTL_S
from clipfeed.infra.cache.redis import RedisCache
from clipfeed.infra.cache.ring import HashRing
from tests import services as engines
from tests.tcp_proxy import TcpProxy

QUICK = BreakerPolicy(failures=3, open_s=0.3)


@pytest.fixture
def servers() -> Iterator[list[engines.ThrowawayRedis]]:
    with engines.throwaway_redis() as first, engines.throwaway_redis() as second:
        yield [first, second]


@pytest.fixture
async def ring(servers: list[engines.ThrowawayRedis]) -> AsyncIterator[tuple[Cache, list[str]]]:
    names = [f"{server.url}/0" for server in servers]
    for name in names:
        BREAKERS.get("redis", name, QUICK)
    cache = open_cache(",".join(names))
    yield cache, names
    await cache.close()


def _keys_of(names: list[str], node: str, count: int) -> list[str]:
    ring = HashRing(names)
    return [key for key in (f"clip:{n}" for n in range(10 * count)) if ring.node_for(key) == node][:count]


async def _until_home(cache: Cache, names: list[str], node: str) -> AsyncIterator[int]:
    """Yield (for checks made meanwhile) until ``node`` serves its keys for ``cache`` again:
    a key of its written without a TTL keeps none, which only happens at home (a stand-in
    caps it)."""
    probe = _keys_of(names, node, 30)[-1]
    for round_ in range(200):  # the ring sends the trial itself once the breaker's interval passes
        yield round_
        await cache.set(probe, b"home")
        if await cache.ttl(probe) is None and await cache.get(probe) == b"home":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{node} was not taken back into the ring")


async def _route_around(cache: Cache, key: str, breaker_state: Callable[[], str]) -> None:
    """Call until the breaker of ``key``'s node opens: the first calls meet the silent node,
    time out and are run again on the other one."""
    for _ in range(20):
        if breaker_state() != "closed":
            return
        assert await cache.get(key) is None  # re-homed: a miss on the stand-in
    raise AssertionError("the silent node's breaker did not open")


async def test_a_stopped_node_costs_callers_no_error_and_its_return_is_picked_up(
    servers: list[engines.ThrowawayRedis], ring: tuple[Cache, list[str]],
) -> None:
    cache, names = ring
    live_keys, dead_keys = _keys_of(names, names[0], 20), _keys_of(names, names[1], 20)
    await cache.set_many({key: b"before" for key in live_keys + dead_keys})
    await cache.incr("rl:signin:1", 1, ttl=60)  # somewhere on the ring

    servers[1].stop()
    # Calls of every shape, with the node gone: the first ones meet the dead node before its
    # breaker opens, and are run again on the live one; none raises.
    for round_ in range(10):
        assert await cache.get_many(live_keys) == [b"before"] * len(live_keys)
        for key in [dead_keys[0], *dead_keys[6:10]]:
            assert await cache.get(key) in (None, b"again")  # re-homed: a miss, then what was written
        await cache.set(dead_keys[0], b"again")
        assert await cache.get(dead_keys[0]) == b"again"
        assert await cache.incr(f"cnt:{dead_keys[1]}", 1) == round_ + 1
        await cache.add(f"lock:{dead_keys[2]}", b"1", ttl=30)
        await cache.write_many([Write("hincr_float", f"stats:{dead_keys[3]}", ("views", 1.0)),
                                Write("zincr", "trending", (dead_keys[4], 1.0), ttl=60)])
        await cache.sadd(f"seen:{dead_keys[5]}", "a", "b")
        await cache.ping()
    breaker = BREAKERS.get("redis", names[1])
    assert breaker.state != "closed"
    # A re-homed key lives on the stand-in no longer than REHOMED_TTL_S, whatever its writer asked.
    left = await cache.ttl(dead_keys[0])
    assert left is not None and 0 < left <= REHOMED_TTL_S
    assert await cache.ttl(live_keys[0]) is None

    servers[1].start()  # empty: the throwaway servers keep nothing, as a cache may
    async for _ in _until_home(cache, names, names[1]):  # the ring sends the trial itself
        pass
    assert breaker.state == "closed"
    assert await cache.get(dead_keys[0]) is None  # served by its own node again, which came back empty
    await cache.set(dead_keys[0], b"home")
    assert await cache.ttl(dead_keys[0]) is None  # at home a key keeps the TTL its writer gave it
    assert await cache.get_many([live_keys[0], dead_keys[0]]) == [b"before", b"home"]


async def test_with_every_node_stopped_calls_fail_as_with_one_server(
    servers: list[engines.ThrowawayRedis], ring: tuple[Cache, list[str]],
) -> None:
    from clipfeed.core.errors import Unavailable

    cache, _names = ring
    for server in servers:
        server.stop()
    for _ in range(8):
        with pytest.raises(Unavailable):
            await cache.get("anything")
    with pytest.raises(Unavailable):
        await cache.ping()


@pytest.fixture
async def quick_ring(servers: list[engines.ThrowawayRedis]) -> AsyncIterator[tuple[Cache, list[str]]]:
    """The ring with short command timeouts: a paused node costs each call 0.3 s."""
    names = [f"{server.url}/0" for server in servers]
    for name in names:
        BREAKERS.get("redis", name, QUICK)
    cache = open_cache(",".join(f"{name}?socket_timeout=0.3" for name in names))
    yield cache, names
    await cache.close()


async def test_a_paused_node_that_comes_back_with_its_data_serves_nothing_it_held_before(
    servers: list[engines.ThrowawayRedis], quick_ring: tuple[Cache, list[str]],
) -> None:
    cache, names = quick_ring
    breaker = BREAKERS.get("redis", names[1])
    deleted, overwritten, counted, untouched = _keys_of(names, names[1], 4)
    await cache.set_many({deleted: b"before", overwritten: b"before", untouched: b"before"})
    assert await cache.incr(counted, 5) == 5

    servers[1].pause()  # frozen with its data, as a stalled host or a paused VM is
    try:
        await _route_around(cache, deleted, lambda: breaker.state)
        # Made on the stand-in while the node is out: the node never hears of them.
        assert await cache.delete(deleted) == 0
        await cache.set(overwritten, b"during")
        assert await cache.incr(counted) == 1
    finally:
        servers[1].resume()

    # Neither while the node rejoins (the stand-in's copies) nor once it serves again (empty)
    # is anything it held before served.
    async for _ in _until_home(cache, names, names[1]):
        found = await cache.get_many([deleted, overwritten, counted, untouched])
        assert found in ([None, b"during", b"1", None], [None] * 4)
    assert await cache.get_many([deleted, overwritten, counted, untouched]) == [None] * 4
    assert await cache.incr(counted) == 1  # the counter starts afresh: it does not jump back to 6
    assert breaker.state == "closed"



async def test_a_node_that_leaves_again_soon_after_its_return_does_not_bring_back_the_stand_ins_copies(
    servers: list[engines.ThrowawayRedis], quick_ring: tuple[Cache, list[str]],
) -> None:
    cache, names = quick_ring
    breaker = BREAKERS.get("redis", names[1])
    key, seen, other = _keys_of(names, names[1], 3)

    async def outage() -> None:
        servers[1].pause()
        try:
            await _route_around(cache, other, lambda: breaker.state)
        finally:
            servers[1].resume()

    await outage()
    await cache.set(key, b"first outage")  # on the stand-in, for at most REHOMED_TTL_S
    await cache.sadd(seen, "clip-1", ttl=3600)
    async for _ in _until_home(cache, names, names[1]):
        pass
    await cache.delete(key)  # at home, well within the stand-in copy's TTL
    assert await cache.smembers(seen) == set()

    await outage()  # the node leaves again: its keys go back to the same stand-in
    assert await cache.get(key) is None  # not the copy of the first outage
    assert await cache.smembers(seen) == set()

async def test_a_node_that_may_not_be_emptied_stays_out_of_the_ring_until_it_may(
    servers: list[engines.ThrowawayRedis], quick_ring: tuple[Cache, list[str]],
) -> None:
    cache, names = quick_ring
    breaker = BREAKERS.get("redis", names[1])
    key, probe = _keys_of(names, names[1], 2)
    await cache.set(key, b"before")
    admin = redis.Redis.from_url(names[1])
    try:
        await admin.execute_command("ACL", "SETUSER", "default", "-flushdb")  # as some hosted Redis do
        servers[1].pause()
        try:
            await _route_around(cache, key, lambda: breaker.state)
        finally:
            servers[1].resume()
        for _ in range(30):  # several open intervals: each try to empty it is refused
            await cache.set(probe, b"out")
            assert await cache.ttl(probe) is not None  # still re-homed: capped on the stand-in
            assert await cache.get(key) is None
            await asyncio.sleep(0.05)
        assert breaker.state == "closed"  # it answers, but is not let in

        await admin.execute_command("ACL", "SETUSER", "default", "+flushdb")
        async for _ in _until_home(cache, names, names[1]):
            assert await cache.get(key) is None
        assert await cache.get(key) is None
    finally:
        await admin.aclose()


async def test_a_process_taking_a_cut_node_back_empties_it_again_after_another_process_has(
    servers: list[engines.ThrowawayRedis],
) -> None:
    """Two processes (each its own breakers and ring) route around a node cut off behind a
    proxy. When the link is back the first takes the node back and writes there, while the
    second still routes around it and deletes that key on its stand-in; when the second takes
    the node back, that write is gone too."""
    proxy = await TcpProxy(servers[1].port).start()
    names = [f"{servers[0].url}/0", f"redis://127.0.0.1:{proxy.port}/0"]
    urls = ",".join(f"{name}?socket_timeout=0.3" for name in names)
    for name in names:
        BREAKERS.get("redis", name, QUICK)
    elsewhere = Breakers()
    elsewhere.configure(QUICK)
    first, second = RedisCache.from_url(urls), RedisCache.from_url(urls, breakers=elsewhere)
    first_breaker, second_breaker = BREAKERS.get("redis", names[1]), elsewhere.get("redis", names[1])
    key = _keys_of(names, names[1], 1)[0]
    try:
        await first.set(key, b"before")
        proxy.mode = "blackhole"  # connections are taken but nothing comes back: a cut link
        proxy.cut()
        await _route_around(first, key, lambda: first_breaker.state)
        await _route_around(second, key, lambda: second_breaker.state)
        proxy.mode = "forward"

        async for _ in _until_home(first, names, names[1]):
            assert await first.get(key) is None
        assert second_breaker.state == "open"  # the second process has not sent its trial yet
        await first.set(key, b"after, first")  # at home: on the node
        assert await second.delete(key) == 0  # on the second's stand-in: the node does not hear of it

        async for _ in _until_home(second, names, names[1]):
            assert await second.get(key) is None
        assert await first.get(key) is None  # the second emptied the node as it took it back
    finally:
        await first.close()
        await second.close()
        await proxy.close()
