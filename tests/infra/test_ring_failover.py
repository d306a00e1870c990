"""One Redis of a two-node ring stopped while calls run through the cache port: no error reaches
the caller, the stopped node's keys are served by the other (starting empty, with a short TTL),
and the node's return is picked up. Two throwaway servers (``tests/services.py``), killed and
started again on their ports; the machine's shared Redis is never stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from clipfeed.infra.breaker import BREAKERS, BreakerPolicy
from clipfeed.infra.cache import Cache, Write, open_cache
from clipfeed.infra.cache.failover import REHOMED_TTL_S
from clipfeed.infra.cache.ring import HashRing
from tests import services as engines

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
    for _ in range(200):  # the ring sends the trial itself once the breaker's interval passes
        await cache.get(live_keys[0])
        if breaker.state == "closed":
            break
        await asyncio.sleep(0.05)
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
