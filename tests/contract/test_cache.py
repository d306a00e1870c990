"""The cache contract, run against the in-process LRU, one Redis node and a two-node Redis ring."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
import redis.asyncio as redis

from clipfeed.core.errors import Unavailable
from clipfeed.infra.cache import Cache, Read, Write, open_cache
from tests.services import free_port

SHORT_TTL = 0.2


def _server(redis_url: str) -> str:
    """The server part of the session's Redis URL; tests pick the database themselves."""
    parts = urlsplit(redis_url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture(params=["memory", "redis", "redis-ring"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[Cache]:
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    if request.param == "memory":
        url = "memory://?max_items=100000"
    else:
        server = _server(request.getfixturevalue("redis_url"))
        if request.param == "redis":
            url = f"{server}/15?prefix={prefix}"
        else:
            # Two databases of one server are two separate keyspaces: a ring of two nodes.
            url = f"{server}/13?prefix={prefix},{server}/14?prefix={prefix}"
    store = open_cache(url)
    try:
        yield store
    finally:
        await store.flush()
        await store.close()


async def test_get_returns_what_set_stored_and_none_for_a_missing_key(cache: Cache) -> None:
    await cache.set("clip:1", b"\x00payload")
    assert await cache.get("clip:1") == b"\x00payload"
    assert await cache.get("clip:missing") is None
    await cache.ping()


async def test_a_value_disappears_after_its_ttl(cache: Cache) -> None:
    await cache.set("session", b"x", ttl=SHORT_TTL)
    assert await cache.get("session") == b"x"
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.get("session") is None


async def test_set_replaces_the_value_and_clears_an_old_ttl(cache: Cache) -> None:
    await cache.set("feed", b"old", ttl=SHORT_TTL)
    await cache.set("feed", b"new")
    assert await cache.ttl("feed") is None
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.get("feed") == b"new"


async def test_get_many_returns_values_in_key_order_across_nodes(cache: Cache) -> None:
    keys = [f"clip:{number}" for number in range(60)]
    await cache.set_many({key: key.encode() for key in keys[::2]})
    found = await cache.get_many(keys)
    assert found == [key.encode() if number % 2 == 0 else None for number, key in enumerate(keys)]
    assert await cache.get_many([]) == []


async def test_set_many_gives_every_item_the_same_ttl(cache: Cache) -> None:
    await cache.set_many({f"k{number}": b"v" for number in range(20)}, ttl=SHORT_TTL)
    assert await cache.get_many(["k0", "k19"]) == [b"v", b"v"]
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.get_many(["k0", "k19"]) == [None, None]


async def test_add_sets_only_when_the_key_is_absent(cache: Cache) -> None:
    assert await cache.add("lock:upload", b"worker-1", ttl=SHORT_TTL) is True
    assert await cache.add("lock:upload", b"worker-2") is False
    assert await cache.get("lock:upload") == b"worker-1"
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.add("lock:upload", b"worker-2") is True
    assert await cache.get("lock:upload") == b"worker-2"



async def test_set_if_replaces_only_the_version_the_writer_read(cache: Cache) -> None:
    # Two writers read version 1; the first to write back wins, the second learns it lost.
    assert await cache.set_if("buffer", b"v1:abc", prefix=None) is True
    assert await cache.set_if("buffer", b"v1:again", prefix=None) is False  # not absent any more
    assert await cache.set_if("buffer", b"v2:first", prefix=b"v1:", ttl=SHORT_TTL) is True
    assert await cache.set_if("buffer", b"v3:second", prefix=b"v1:") is False
    assert await cache.get("buffer") == b"v2:first"
    # A prefix longer than the value, or a missing key, never matches.
    assert await cache.set_if("buffer", b"v4", prefix=b"v2:first and more") is False
    assert await cache.set_if("missing", b"v1", prefix=b"v") is False
    assert await cache.get("missing") is None
    # The winner's TTL holds; binary stamps compare byte for byte.
    assert 0 < (await cache.ttl("buffer") or 0) <= SHORT_TTL
    stamp = bytes(range(256))[::-1][:8]
    await cache.set("binary", stamp + b"\x00rest")
    assert await cache.set_if("binary", b"new", prefix=stamp) is True
    assert await cache.get("binary") == b"new"
    with pytest.raises(ValueError):
        await cache.set_if("binary", b"x", prefix=b"")
    await cache.zadd("ranking", {"a": 1.0})
    with pytest.raises(TypeError):
        await cache.set_if("ranking", b"x", prefix=b"a")

async def test_delete_counts_only_the_keys_that_existed(cache: Cache) -> None:
    keys = [f"seen:{number}" for number in range(30)]
    await cache.set_many({key: b"1" for key in keys[:20]})
    assert await cache.delete(*keys, "seen:0") == 20
    assert await cache.get_many(keys[:20]) == [None] * 20
    assert await cache.delete() == 0


async def test_write_many_runs_each_command_as_its_own_method_would_and_returns_its_result(cache: Cache) -> None:
    await cache.set("dedupe:2", b"seen")
    await cache.zadd("recent", {"old": 1.0, "older": 0.5})
    await cache.hset("stats", {"views": b"2"})  # no TTL: a batch's ttl must not add one
    writes = [Write("add", f"dedupe:{n}", (b"1",), ttl=100) for n in range(40)]
    writes += [Write("add", "dedupe:7", (b"again",), ttl=100), Write("set", "known", (b"1",), ttl=SHORT_TTL),
               Write("hset", "labels", ({"like": b"1"},), ttl=100), Write("hset", "labels", ({},), ttl=100),
               Write("hincr_float", "stats", ("views", 1.5), ttl=100),
               Write("hincr_float", "stats", ("views", 1.0), ttl=100),
               Write("hincr_floats", "clip", ({"imp": 1.0, "watch": 2.5},), ttl=100),
               Write("hincr_floats", "clip", ({},), ttl=100),
               Write("zincr", "trend", ("clip1", 2.0), ttl=100), Write("zincr", "trend", ("clip1", 3.0)),
               Write("zadd", "recent", ({"new": 5.0},), ttl=100), Write("ztrim", "recent", (2,)),
               Write("zrem", "fresh"), Write("sadd", "hidden", ("9", "9", "8"), ttl=100)]
    results = await cache.write_many(writes)
    assert results[:40] == [n != 2 for n in range(40)]
    assert results[40:] == [False, None, None, None, 3.5, 4.5, {"imp": 1.0, "watch": 2.5}, {}, 2.0, 5.0, None, 1,
                            0, 2]
    assert await cache.get("dedupe:7") == b"1" and await cache.get("dedupe:2") == b"seen"
    assert await cache.hgetall("labels") == {"like": b"1"}
    assert float((await cache.hgetall("stats"))["views"]) == 4.5 and await cache.ttl("stats") is None
    labels_left = await cache.ttl("labels")
    assert labels_left is not None and 90 < labels_left <= 100
    assert await cache.ztop("recent", 5) == [("new", 5.0), ("old", 1.0)]
    assert await cache.smembers("hidden") == {"8", "9"}
    # A redelivered batch of dedupe keys claims none of them.
    assert await cache.write_many(writes[:40]) == [False] * 40
    assert await cache.write_many([]) == []
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.get("known") is None


async def test_write_many_runs_the_rest_when_one_command_fails_and_refuses_unknown_methods(cache: Cache) -> None:
    await cache.set("text", b"x")
    with pytest.raises(TypeError):
        await cache.write_many([Write("hincr_float", f"n{n}", ("a", 1.0)) for n in range(10)]
                               + [Write("hincr_float", "text", ("a", 1.0))]
                               + [Write("sadd", f"s{n}", ("m",)) for n in range(10)])
    assert [await cache.hgetall(f"n{n}") for n in range(10)] == [{"a": b"1"}] * 10
    assert [await cache.smembers(f"s{n}") for n in range(10)] == [{"m"}] * 10
    for bad in (Write("delete", "n0"), Write("ztrim", "z", (1,), ttl=5), Write("set", "k", (b"v",), ttl=0)):
        with pytest.raises(ValueError):
            await cache.write_many([Write("set", "untouched", (b"v",)), bad])
    assert await cache.get("untouched") is None


async def test_write_many_compares_and_sets_like_set_if(cache: Cache) -> None:
    await cache.set("buffer", b"v1:old")
    results = await cache.write_many([Write("set_if", "buffer", (b"v2:page", b"v1:"), ttl=100),
                                      Write("set_if", "buffer", (b"v3:refill", b"v1:"), ttl=100),
                                      Write("set_if", "fresh", (b"v1:new", None), ttl=SHORT_TTL),
                                      Write("set_if", "fresh", (b"v1:again", None))])
    assert results == [True, False, True, False]
    assert await cache.get_many(["buffer", "fresh"]) == [b"v2:page", b"v1:new"]
    with pytest.raises(ValueError):
        await cache.write_many([Write("set_if", "buffer", (b"x", b""))])
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.get("fresh") is None


async def test_read_many_answers_each_read_as_its_own_method_would(cache: Cache) -> None:
    keys = [f"profile:{n}" for n in range(30)]  # spread over both nodes of the ring
    for n, key in enumerate(keys):
        await cache.hset(key, {"n": str(n).encode()})
    await cache.set("buffer", b"\x00bytes")
    await cache.zadd("recent", {"a": 3.0, "b": 2.0, "c": 1.0})
    await cache.sadd("hidden", "7", "8")
    reads = [Read("hgetall", key) for key in keys] + [
        Read("get", "buffer"), Read("get", "missing"), Read("hgetall", "missing"), Read("ztop", "recent", (2,)),
        Read("ztop", "recent", (2, 1)), Read("ztop", "recent", (0,)), Read("smembers", "hidden"),
        Read("smembers", "missing")]
    results = await cache.read_many(reads)
    assert results[:30] == [{"n": str(n).encode()} for n in range(30)]
    assert results[30:] == [b"\x00bytes", None, {}, [("a", 3.0), ("b", 2.0)], [("b", 2.0), ("c", 1.0)], [],
                            {"7", "8"}, set()]
    assert await cache.read_many([]) == []
    with pytest.raises(TypeError):
        await cache.read_many([Read("get", "buffer"), Read("hgetall", "buffer")])
    with pytest.raises(ValueError):
        await cache.read_many([Read("delete", "buffer")])


async def test_incr_counts_from_zero_and_its_ttl_applies_only_on_creation(cache: Cache) -> None:
    assert await cache.incr("views", ttl=10) == 1
    assert await cache.incr("views", 4, ttl=1000) == 5
    left = await cache.ttl("views")
    assert left is not None and 8 < left <= 10
    assert await cache.incr("plain", -3) == -3
    assert await cache.ttl("plain") is None


async def test_incr_is_atomic_under_200_concurrent_callers(cache: Cache) -> None:
    results = await asyncio.gather(*(cache.incr("likes") for _ in range(200)))
    assert sorted(results) == list(range(1, 201))
    assert await cache.get("likes") == b"200"


async def test_incr_float_adds_fractions(cache: Cache) -> None:
    assert await cache.incr_float("watch_seconds", 1.5) == pytest.approx(1.5)
    assert await cache.incr_float("watch_seconds", 2.25, ttl=5) == pytest.approx(3.75)
    assert float(await cache.get("watch_seconds") or b"nan") == pytest.approx(3.75)


async def test_expire_and_ttl_report_the_seconds_left(cache: Cache) -> None:
    assert await cache.expire("missing", 5) is False
    assert await cache.ttl("missing") is None
    await cache.set("token", b"t")
    assert await cache.ttl("token") is None
    assert await cache.expire("token", 5) is True
    left = await cache.ttl("token")
    assert left is not None and 4 < left <= 5
    assert await cache.expire("token", SHORT_TTL) is True
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.get("token") is None


async def test_hset_merges_fields_and_hgetall_returns_them(cache: Cache) -> None:
    assert await cache.hgetall("features:u1") == {}
    await cache.hset("features:u1", {"watch": b"3", "likes": b"1"})
    await cache.hset("features:u1", {"likes": b"2", "follows": b"7"})
    assert await cache.hgetall("features:u1") == {"watch": b"3", "likes": b"2", "follows": b"7"}
    await cache.hset("features:u1", {})


async def test_hincr_floats_adds_to_several_fields_at_once_and_its_ttl_applies_only_on_creation(
        cache: Cache) -> None:
    assert await cache.hincr_floats("stats", {"imp": 1, "watch_ms": 1500.5}, ttl=10) == {"imp": 1.0, "watch_ms": 1500.5}
    assert await cache.hincr_floats("stats", {"watch_ms": -0.5, "like": 2}, ttl=1000) == {"watch_ms": 1500.0,
                                                                                          "like": 2.0}
    assert await cache.hgetall("stats") == {"imp": b"1", "watch_ms": b"1500", "like": b"2"}
    left = await cache.ttl("stats")
    assert left is not None and 8 < left <= 10
    assert await cache.hincr_floats("plain", {"a": 1}) == {"a": 1.0} and await cache.ttl("plain") is None
    assert await cache.hincr_floats("plain", {}) == {}
    await cache.set("text", b"x")
    with pytest.raises(TypeError):
        await cache.hincr_floats("text", {"a": 1})


async def test_hget_many_reads_several_hashes_in_key_order(cache: Cache) -> None:
    keys = [f"features:clip{number}" for number in range(20)]
    for number, key in enumerate(keys[:10]):
        await cache.hset(key, {"n": str(number).encode()})
    found = await cache.hget_many(keys)
    assert found[:10] == [{"n": str(number).encode()} for number in range(10)]
    assert found[10:] == [{}] * 10


async def test_hincr_float_accumulates_per_field(cache: Cache) -> None:
    assert await cache.hincr_float("stats", "score", 0.5) == pytest.approx(0.5)
    assert await cache.hincr_float("stats", "score", 2) == pytest.approx(2.5)
    assert await cache.hincr_float("stats", "other", -1, ttl=5) == pytest.approx(-1)
    fields = await cache.hgetall("stats")
    assert {name: float(value) for name, value in fields.items()} == {"score": 2.5, "other": -1.0}


async def test_ztop_orders_by_score_descending_and_ties_by_member_descending(cache: Cache) -> None:
    await cache.zadd("trending", {"clip-a": 5, "clip-b": 9, "clip-c": 5, "clip-d": 1, "clip-e": 5})
    assert await cache.ztop("trending", 10) == [
        ("clip-b", 9.0), ("clip-e", 5.0), ("clip-c", 5.0), ("clip-a", 5.0), ("clip-d", 1.0)]
    assert await cache.ztop("trending", 2, offset=2) == [("clip-c", 5.0), ("clip-a", 5.0)]
    assert await cache.ztop("trending", 0) == []
    assert await cache.ztop("missing", 5) == []


async def test_zincr_zscore_zrem_and_zcard_keep_scores(cache: Cache) -> None:
    assert await cache.zincr("hot", "clip-1", 1.5) == pytest.approx(1.5)
    assert await cache.zincr("hot", "clip-1", 1.0) == pytest.approx(2.5)
    await cache.zadd("hot", {"clip-2": 4})
    assert await cache.zscore("hot", "clip-1") == pytest.approx(2.5)
    assert await cache.zscore("hot", "nobody") is None
    assert await cache.zcard("hot") == 2
    assert await cache.zrem("hot", "clip-1", "nobody") == 1
    assert await cache.zrem("hot") == 0
    assert await cache.zcard("hot") == 1
    assert await cache.zrem("hot", "clip-2") == 1
    assert await cache.zcard("hot") == 0
    assert await cache.ttl("hot") is None


async def test_ztrim_keeps_the_highest_scored_members(cache: Cache) -> None:
    await cache.zadd("board", {f"clip-{number}": number for number in range(10)})
    assert await cache.ztrim("board", 3) == 7
    assert await cache.ztop("board", 10) == [("clip-9", 9.0), ("clip-8", 8.0), ("clip-7", 7.0)]
    assert await cache.ztrim("board", 5) == 0
    assert await cache.ztrim("board", 0) == 3
    assert await cache.zcard("board") == 0


async def test_sadd_counts_new_members_and_sismember_many_checks_each(cache: Cache) -> None:
    assert await cache.sadd("seen:u1", "c1", "c2") == 2
    assert await cache.sadd("seen:u1", "c2", "c3") == 1
    assert await cache.sadd("seen:u1") == 0
    assert await cache.smembers("seen:u1") == {"c1", "c2", "c3"}
    assert await cache.sismember_many("seen:u1", ["c3", "c9", "c1"]) == [True, False, True]
    assert await cache.sismember_many("seen:nobody", ["c1"]) == [False]
    assert await cache.smembers("seen:nobody") == set()


async def test_structures_created_with_a_ttl_expire(cache: Cache) -> None:
    await cache.hset("h", {"f": b"1"}, ttl=SHORT_TTL)
    await cache.zadd("z", {"m": 1}, ttl=SHORT_TTL)
    await cache.zincr("z2", "m", 1, ttl=SHORT_TTL)
    await cache.sadd("s", "m", ttl=SHORT_TTL)
    await cache.incr_float("f", 1, ttl=SHORT_TTL)
    # A later write with a longer TTL does not extend the one set at creation.
    await cache.sadd("s", "n", ttl=100)
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.hgetall("h") == {}
    assert await cache.zcard("z") == 0
    assert await cache.zcard("z2") == 0
    assert await cache.smembers("s") == set()
    assert await cache.get("f") is None


async def test_a_command_on_a_key_of_another_type_raises_type_error(cache: Cache) -> None:
    await cache.set("plain", b"1")
    with pytest.raises(TypeError):
        await cache.zadd("plain", {"m": 1})
    with pytest.raises(TypeError):
        await cache.hgetall("plain")
    await cache.sadd("members", "a")
    with pytest.raises(TypeError):
        await cache.get("members")


async def test_flush_drops_everything_this_cache_holds(cache: Cache) -> None:
    await cache.set_many({f"k{number}": b"v" for number in range(30)})
    await cache.zadd("z", {"m": 1})
    await cache.flush()
    assert await cache.get_many([f"k{number}" for number in range(30)]) == [None] * 30
    assert await cache.zcard("z") == 0


async def test_flush_leaves_keys_outside_the_prefix_alone(redis_url: str) -> None:
    server = _server(redis_url)
    mine = open_cache(f"{server}/15?prefix=test-{uuid.uuid4().hex[:12]}:")
    theirs = open_cache(f"{server}/15?prefix=test-{uuid.uuid4().hex[:12]}:")
    try:
        await mine.set("shared-name", b"mine")
        await theirs.set("shared-name", b"theirs")
        await mine.flush()
        assert await mine.get("shared-name") is None
        assert await theirs.get("shared-name") == b"theirs"
    finally:
        await theirs.flush()
        await mine.close()
        await theirs.close()


async def test_a_ring_spreads_keys_over_both_nodes(redis_url: str) -> None:
    server = _server(redis_url)
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    ring = open_cache(f"{server}/13?prefix={prefix},{server}/14?prefix={prefix}")
    nodes = [redis.Redis.from_url(f"{server}/{db}") for db in (13, 14)]
    try:
        await ring.set_many({f"clip:{number}": b"1" for number in range(200)})
        counts = [len([name async for name in node.scan_iter(match=f"{prefix}*", count=1000)])
                  for node in nodes]
        assert sum(counts) == 200
        assert all(count > 40 for count in counts), counts
    finally:
        await ring.flush()
        await ring.close()
        for node in nodes:
            await node.aclose()


async def test_a_cache_at_a_closed_port_raises_unavailable_quickly() -> None:
    cache = open_cache(f"redis://127.0.0.1:{free_port()}/0")
    started = time.monotonic()
    try:
        with pytest.raises(Unavailable):
            await cache.get("anything")
        with pytest.raises(Unavailable):
            await cache.ping()
    finally:
        await cache.close()
    assert time.monotonic() - started < 3


async def test_setbits_reports_previous_values_and_getbits_reads_them_back(cache: Cache) -> None:
    assert await cache.getbits("bloom", [0, 7, 100_000]) == [False, False, False]
    assert await cache.setbits("bloom", [3, 100_000, 3]) == [False, False, True]
    assert await cache.getbits("bloom", [2, 3, 4, 100_000, 100_001, 10**9]) == [
        False, True, False, True, False, False]
    assert await cache.setbits("bloom", [3, 5]) == [True, False]
    assert await cache.setbits("bloom", []) == [] and await cache.getbits("bloom", []) == []


async def test_bit_commands_take_thousands_of_offsets_at_once(cache: Cache) -> None:
    # A claim of a long page, or a filter's whole add: more offsets than one script call could
    # hand to one BITFIELD.
    offsets = [n * 7 for n in range(2_500)]
    assert await cache.setbits("many", offsets[::2]) == [False] * 1_250
    assert await cache.setbits("many", offsets) == [n % 2 == 0 for n in range(2_500)]
    assert await cache.getbits("many", [*offsets, 1]) == [True] * 2_500 + [False]


async def test_a_bitmap_is_a_string_with_offset_zero_as_the_high_bit(cache: Cache) -> None:
    await cache.setbits("bits", [0, 9])
    assert await cache.get("bits") == b"\x80\x40"
    with pytest.raises(ValueError):
        await cache.setbits("bits", [-1])


async def test_setbits_ttl_applies_only_when_the_bitmap_is_created(cache: Cache) -> None:
    await cache.setbits("seen", [1], ttl=SHORT_TTL)
    await cache.setbits("seen", [2], ttl=60)
    assert await cache.getbits("seen", [1, 2]) == [True, True]
    await asyncio.sleep(SHORT_TTL + 0.15)
    assert await cache.getbits("seen", [1, 2]) == [False, False]


async def test_bit_commands_refuse_a_key_of_another_type(cache: Cache) -> None:
    await cache.sadd("members", "a")
    with pytest.raises(TypeError):
        await cache.setbits("members", [1])
    with pytest.raises(TypeError):
        await cache.getbits("members", [1])
