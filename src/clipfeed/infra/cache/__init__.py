"""Cache port: a key-value store with TTLs and the few data structures the product needs
(counters, hashes for feature vectors, sorted sets for trending, sets for dedupe). It is a
cache and a feature store, never the system of record: losing it costs recomputation only.

Values are bytes; TTLs are seconds (None = no expiry). Checked by
``tests/contract/test_cache.py`` against the in-process and Redis adapters.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["Cache", "Read", "Write", "check_reads", "check_writes", "open_cache"]

# The port methods ``write_many`` can batch, and those of them that take no ``ttl``.
WRITE_METHODS = frozenset({"set", "add", "set_if", "hset", "hincr_float", "hincr_floats", "zincr", "zadd", "ztrim",
                           "zrem", "sadd"})
_WITHOUT_TTL = frozenset({"ztrim", "zrem"})
# The port methods ``read_many`` can batch.
READ_METHODS = frozenset({"get", "hgetall", "ztop", "smembers"})


@dataclass(frozen=True, slots=True)
class Read:
    """One command of ``Cache.read_many``: a method name from ``READ_METHODS``, its key and its
    other arguments in the method's order (``Read("ztop", "recent", (50, 10))`` is
    ``ztop("recent", 50, offset=10)``)."""

    method: str
    key: str
    args: tuple[Any, ...] = ()


def check_reads(reads: Sequence[Read]) -> None:
    """Refuse a batch naming a method ``read_many`` cannot run, before any of it runs."""
    for read in reads:
        if read.method not in READ_METHODS:
            raise ValueError(f"read_many cannot run {read.method!r}")


@dataclass(frozen=True, slots=True)
class Write:
    """One command of ``Cache.write_many``: a method name from ``WRITE_METHODS``, its key, its
    other positional arguments in the method's order, and its ``ttl`` (None for ``ztrim``/``zrem``).
    ``Write("hincr_float", "stats", ("views", 1.0), ttl=60)`` is ``hincr_float("stats", "views", 1.0, ttl=60)``."""

    method: str
    key: str
    args: tuple[Any, ...] = ()
    ttl: float | None = None


def check_writes(writes: Sequence[Write]) -> None:
    """Refuse a batch naming a method ``write_many`` cannot run, before any of it runs."""
    for write in writes:
        if write.method not in WRITE_METHODS:
            raise ValueError(f"write_many cannot run {write.method!r}")
        if write.ttl is not None and write.method in _WITHOUT_TTL:
            raise ValueError(f"{write.method} takes no ttl")
        if write.ttl is not None and write.ttl <= 0:
            raise ValueError("a TTL must be positive")
        if write.method == "ztrim" and write.args[0] < 0:
            raise ValueError("keep must not be negative")
        if write.method == "set_if" and write.args[1] is not None and not write.args[1]:
            raise ValueError("set_if needs a non-empty prefix (or None: only if absent)")


class Cache(Protocol):
    url: str

    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None: ...

    async def set_many(self, items: Mapping[str, bytes], ttl: float | None = None) -> None: ...

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        """Set only if absent; True when this call set it (locks, dedupe by event ID)."""

    async def set_if(self, key: str, value: bytes, prefix: bytes | None, ttl: float | None = None) -> bool:
        """Compare and set: replace the value only if the stored one starts with ``prefix``
        (a version stamp its writer put first), or, with ``prefix=None``, only if the key is
        absent; True when this call set it. Two writers that each read, change and write back
        one value use it so that neither silently loses the other's write."""

    async def delete(self, *keys: str) -> int:
        """Remove keys; returns how many existed."""

    async def write_many(self, writes: Sequence[Write]) -> list[Any]:
        """Run several write commands in one round trip per node (a pipeline), each exactly as
        its own method would run, in the given order for any one key; returns each one's result
        as that method returns it (``add``: whether it set the key, ``hincr_float``: the new
        value, ...). Not a transaction: if one command fails (a key of another type) the
        others still run and the first error is raised afterwards; if the cache goes away
        mid-way (``Unavailable``), any subset may have run."""

    async def read_many(self, reads: Sequence[Read]) -> list[Any]:
        """Run several reads in one round trip per node (a pipeline), each answered as its own
        method answers it, in the given order. A read of a key of another type raises
        ``TypeError`` once the batch has run."""

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Atomic add; a missing key counts from 0. ``ttl`` applies when the key is created."""

    async def incr_float(self, key: str, amount: float, ttl: float | None = None) -> float: ...

    async def expire(self, key: str, ttl: float) -> bool: ...

    async def ttl(self, key: str) -> float | None:
        """Seconds left; None when the key has no expiry or does not exist."""

    # hashes (feature vectors, profiles)
    async def hgetall(self, key: str) -> dict[str, bytes]: ...

    async def hget_many(self, keys: Sequence[str]) -> list[dict[str, bytes]]:
        """``hgetall`` of several keys in one round trip."""

    async def hset(self, key: str, mapping: Mapping[str, bytes], ttl: float | None = None) -> None: ...

    async def hincr_float(self, key: str, field: str, amount: float,
                          ttl: float | None = None) -> float: ...

    async def hincr_floats(self, key: str, amounts: Mapping[str, float],
                           ttl: float | None = None) -> dict[str, float]:
        """``hincr_float`` of several fields of one hash in one atomic step; returns the new
        values. ``ttl`` applies when the hash is created."""

    # sorted sets (trending, leaderboards)
    async def zincr(self, key: str, member: str, amount: float, ttl: float | None = None) -> float: ...

    async def zadd(self, key: str, scores: Mapping[str, float], ttl: float | None = None) -> None: ...

    async def ztop(self, key: str, count: int, *, offset: int = 0) -> list[tuple[str, float]]:
        """Members with the highest scores first."""

    async def zscore(self, key: str, member: str) -> float | None: ...

    async def zrem(self, key: str, *members: str) -> int: ...

    async def zcard(self, key: str) -> int: ...

    async def ztrim(self, key: str, keep: int) -> int:
        """Keep the ``keep`` highest-scored members; returns how many were dropped."""

    # sets (seen clips, dedupe)
    async def sadd(self, key: str, *members: str, ttl: float | None = None) -> int:
        """Add members; returns how many were new."""

    # ``builtins.set``: inside the class body ``set`` names the method above.
    async def smembers(self, key: str) -> builtins.set[str]: ...

    async def sismember_many(self, key: str, members: Sequence[str]) -> list[bool]: ...

    # bit arrays (Bloom filters: the feed's seen set); a bitmap is a string value, offset 0 is
    # the most significant bit of the first byte, as in Redis SETBIT/GETBIT
    async def setbits(self, key: str, offsets: Sequence[int], ttl: float | None = None) -> list[bool]:
        """Set the bits at ``offsets`` to 1 in one atomic step (a missing key starts as all
        zeros and grows as needed); returns each bit's value before this call. ``ttl`` applies
        when the key is created."""

    async def getbits(self, key: str, offsets: Sequence[int]) -> list[bool]:
        """The bits at ``offsets`` (False past the end or for a missing key)."""

    async def ping(self) -> None:
        """Raise if the cache cannot be reached."""

    async def flush(self) -> None:
        """Drop everything this cache holds (tests, and ``clipfeed admin cache-flush``)."""

    async def close(self) -> None: ...


def open_cache(url: str) -> Cache:
    """``memory://?max_items=100000`` or ``redis://host:6379/0[,redis://host2:6379/0]`` (several
    URLs: keys spread over the nodes by consistent hashing)."""
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        from clipfeed.infra.cache.memory import MemoryCache

        return MemoryCache.from_url(url)
    if scheme in ("redis", "rediss", "unix"):
        from clipfeed.infra.cache.redis import RedisCache

        return RedisCache.from_url(url)
    raise ValueError(f"unknown cache URL scheme {scheme!r} (use memory:// or redis://)")
