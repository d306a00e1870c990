"""What only the in-process cache does: bounded size with least-recently-used eviction."""

from __future__ import annotations

from clipfeed.infra.cache.memory import MemoryCache


async def test_memory_cache_evicts_the_least_recently_used_key_when_full() -> None:
    cache = MemoryCache.from_url("memory://?max_items=3")
    await cache.set("a", b"1")
    await cache.set("b", b"2")
    await cache.set("c", b"3")
    assert await cache.get("a") == b"1"  # "a" is now the most recently used
    await cache.set("d", b"4")
    assert await cache.get_many(["a", "b", "c", "d"]) == [b"1", None, b"3", b"4"]


async def test_memory_cache_reads_its_size_from_the_url() -> None:
    assert MemoryCache.from_url("memory://?max_items=42").max_items == 42
    assert MemoryCache.from_url("memory://").max_items == 100_000
