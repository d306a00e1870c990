"""In-process cache: an LRU of at most ``max_items`` keys, each with an optional TTL.

The embedded default, for one process (``clipfeed demo``, tests, a laptop). It follows the
Redis adapter's semantics exactly, including its quirks, so code tried here behaves the same
in production: an empty hash/set/sorted set stops existing, ``set`` clears an old TTL, the
data-structure commands refuse a key holding another type, and sorted-set ties are ordered as
Redis orders them (equal scores: the member that sorts last byte-wise comes first in ``ztop``).

Every method is a coroutine for the port's sake but never awaits, so each call is atomic with
respect to other tasks on the event loop. Expired keys are dropped when touched or evicted.
"""

from __future__ import annotations

import builtins
import heapq
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from clipfeed.infra.cache import Read, Write, check_reads, check_writes

_STRING, _HASH, _ZSET, _SET = "string", "hash", "zset", "set"


@dataclass(slots=True)
class _Entry:
    kind: str
    value: Any
    expires: float | None = None


def _deadline(ttl: float | None) -> float | None:
    if ttl is None:
        return None
    if ttl <= 0:
        raise ValueError("a TTL must be positive")
    return time.monotonic() + ttl


def _float_bytes(number: float) -> bytes:
    # Redis prints whole floats without a fraction ("3", not "3.0").
    if number.is_integer() and abs(number) < 1e17:
        return str(int(number)).encode()
    return repr(number).encode()


def _check_prefix(prefix: bytes) -> None:
    if not prefix:
        raise ValueError("set_if needs a non-empty prefix (or None: only if absent)")


def _check_offsets(offsets: Sequence[int]) -> None:
    # Redis caps a bitmap at 512 MiB (2**32 bits) and refuses negative offsets.
    if min(offsets) < 0 or max(offsets) >= 2**32:
        raise ValueError("bit offsets must be within 0 .. 2**32 - 1")


class MemoryCache:
    def __init__(self, *, max_items: int = 100_000, url: str | None = None) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self.url = url or f"memory://?max_items={max_items}"
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    @classmethod
    def from_url(cls, url: str) -> MemoryCache:
        query = parse_qs(urlsplit(url).query)
        max_items = int(query.get("max_items", ["100000"])[0])
        return cls(max_items=max_items, url=url)

    # --- bookkeeping ------------------------------------------------------------------

    def _entry(self, key: str, kind: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires is not None and entry.expires <= time.monotonic():
            del self._entries[key]
            return None
        if entry.kind != kind:
            raise TypeError(f"WRONGTYPE key {key!r} holds a {entry.kind}, not a {kind}")
        self._entries.move_to_end(key)
        return entry

    def _put(self, key: str, entry: _Entry) -> _Entry:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_items:
            self._entries.popitem(last=False)
        return entry

    def _container(self, key: str, kind: str, empty: Any, ttl: float | None) -> _Entry:
        """The existing structure at ``key``, or a new one that gets ``ttl`` (creation only)."""
        entry = self._entry(key, kind)
        if entry is None:
            entry = self._put(key, _Entry(kind, empty, _deadline(ttl)))
        return entry

    def _drop_if_empty(self, key: str, entry: _Entry) -> None:
        if not entry.value:
            self._entries.pop(key, None)

    def _alive(self, key: str) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and entry.expires is not None and entry.expires <= time.monotonic():
            del self._entries[key]
            return None
        return entry

    # --- strings ----------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        entry = self._entry(key, _STRING)
        return None if entry is None else bytes(entry.value)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [await self.get(key) for key in keys]

    async def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        self._put(key, _Entry(_STRING, bytes(value), _deadline(ttl)))

    async def set_many(self, items: Mapping[str, bytes], ttl: float | None = None) -> None:
        for key, value in items.items():
            await self.set(key, value, ttl)

    async def add(self, key: str, value: bytes, ttl: float | None = None) -> bool:
        if self._alive(key) is not None:
            return False
        await self.set(key, value, ttl)
        return True

    async def set_if(self, key: str, value: bytes, prefix: bytes | None, ttl: float | None = None) -> bool:
        if prefix is None:
            return await self.add(key, value, ttl)
        _check_prefix(prefix)
        entry = self._entry(key, _STRING)
        if entry is None or not bytes(entry.value).startswith(prefix):
            return False
        await self.set(key, value, ttl)
        return True

    async def delete(self, *keys: str) -> int:
        removed = 0
        for key in keys:
            if self._alive(key) is not None:
                del self._entries[key]
                removed += 1
        return removed

    async def write_many(self, writes: Sequence[Write]) -> list[Any]:
        check_writes(writes)
        results: list[Any] = []
        error: Exception | None = None
        for write in writes:
            method = getattr(self, write.method)
            options = {} if write.method in ("ztrim", "zrem") else {"ttl": write.ttl}
            try:
                results.append(await method(write.key, *write.args, **options))
            except (TypeError, ValueError) as err:  # like a pipeline: the rest still runs
                results.append(err)
                error = error or err
        if error is not None:
            raise error
        return results

    async def read_many(self, reads: Sequence[Read]) -> list[Any]:
        check_reads(reads)
        results: list[Any] = []
        error: Exception | None = None
        for read in reads:
            try:
                if read.method == "ztop":  # its offset is a keyword
                    results.append(await self.ztop(read.key, read.args[0], offset=read.args[1] if read.args[1:] else 0))
                else:
                    results.append(await getattr(self, read.method)(read.key, *read.args))
            except TypeError as err:  # like a pipeline: the rest still runs
                results.append(err)
                error = error or err
        if error is not None:
            raise error
        return results

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        entry = self._container(key, _STRING, b"0", ttl)
        number = int(entry.value) + amount
        entry.value = str(number).encode()
        return number

    async def incr_float(self, key: str, amount: float, ttl: float | None = None) -> float:
        entry = self._container(key, _STRING, b"0", ttl)
        number = float(entry.value) + amount
        entry.value = _float_bytes(number)
        return number

    async def expire(self, key: str, ttl: float) -> bool:
        entry = self._alive(key)
        if entry is None:
            return False
        if ttl <= 0:
            del self._entries[key]
        else:
            entry.expires = time.monotonic() + ttl
        return True

    async def ttl(self, key: str) -> float | None:
        entry = self._alive(key)
        if entry is None or entry.expires is None:
            return None
        return max(0.0, entry.expires - time.monotonic())

    # --- hashes -----------------------------------------------------------------------

    async def hgetall(self, key: str) -> dict[str, bytes]:
        entry = self._entry(key, _HASH)
        return {} if entry is None else dict(entry.value)

    async def hget_many(self, keys: Sequence[str]) -> list[dict[str, bytes]]:
        return [await self.hgetall(key) for key in keys]

    async def hset(self, key: str, mapping: Mapping[str, bytes], ttl: float | None = None) -> None:
        if mapping:
            self._container(key, _HASH, {}, ttl).value.update(
                {field: bytes(value) for field, value in mapping.items()})

    async def hincr_float(self, key: str, field: str, amount: float,
                          ttl: float | None = None) -> float:
        fields = self._container(key, _HASH, {}, ttl).value
        number = float(fields.get(field, b"0")) + amount
        fields[field] = _float_bytes(number)
        return number

    async def hincr_floats(self, key: str, amounts: Mapping[str, float],
                           ttl: float | None = None) -> dict[str, float]:
        if not amounts:
            return {}
        self._container(key, _HASH, {}, ttl)  # type-checks the key before any field changes
        return {field: await self.hincr_float(key, field, amount, ttl) for field, amount in amounts.items()}

    # --- sorted sets ------------------------------------------------------------------

    async def zincr(self, key: str, member: str, amount: float, ttl: float | None = None) -> float:
        scores = self._container(key, _ZSET, {}, ttl).value
        scores[member] = scores.get(member, 0.0) + amount
        return float(scores[member])

    async def zadd(self, key: str, scores: Mapping[str, float], ttl: float | None = None) -> None:
        if scores:
            self._container(key, _ZSET, {}, ttl).value.update(
                {member: float(score) for member, score in scores.items()})

    async def ztop(self, key: str, count: int, *, offset: int = 0) -> list[tuple[str, float]]:
        entry = self._entry(key, _ZSET)
        if entry is None or count <= 0:
            return []
        # (score, member) descending is Redis's ZREVRANGE order; str order equals UTF-8 byte order.
        best = heapq.nlargest(offset + count, entry.value.items(), key=lambda kv: (kv[1], kv[0]))
        return [(member, score) for member, score in best[offset:]]

    async def zscore(self, key: str, member: str) -> float | None:
        entry = self._entry(key, _ZSET)
        return None if entry is None else entry.value.get(member)

    async def zrem(self, key: str, *members: str) -> int:
        entry = self._entry(key, _ZSET)
        if entry is None:
            return 0
        removed = sum(1 for member in members if entry.value.pop(member, None) is not None)
        self._drop_if_empty(key, entry)
        return removed

    async def zcard(self, key: str) -> int:
        entry = self._entry(key, _ZSET)
        return 0 if entry is None else len(entry.value)

    async def ztrim(self, key: str, keep: int) -> int:
        if keep < 0:
            raise ValueError("keep must not be negative")
        entry = self._entry(key, _ZSET)
        if entry is None or len(entry.value) <= keep:
            return 0
        kept = heapq.nlargest(keep, entry.value.items(), key=lambda kv: (kv[1], kv[0]))
        dropped = len(entry.value) - len(kept)
        entry.value = dict(kept)
        self._drop_if_empty(key, entry)
        return dropped

    # --- sets -------------------------------------------------------------------------

    async def sadd(self, key: str, *members: str, ttl: float | None = None) -> int:
        if not members:
            return 0
        current = self._container(key, _SET, set(), ttl).value
        before = len(current)
        current.update(members)
        return len(current) - before

    async def smembers(self, key: str) -> builtins.set[str]:
        entry = self._entry(key, _SET)
        return set() if entry is None else set(entry.value)

    async def sismember_many(self, key: str, members: Sequence[str]) -> list[bool]:
        entry = self._entry(key, _SET)
        current = set() if entry is None else entry.value
        return [member in current for member in members]

    # --- bit arrays (stored as strings, like Redis bitmaps) ------------------------------

    async def setbits(self, key: str, offsets: Sequence[int], ttl: float | None = None) -> list[bool]:
        if not offsets:
            return []
        _check_offsets(offsets)
        entry = self._container(key, _STRING, b"", ttl)
        bits = bytearray(entry.value)
        need = max(offsets) // 8 + 1
        if len(bits) < need:
            bits.extend(bytes(need - len(bits)))
        before = []
        for offset in offsets:
            mask = 0x80 >> (offset % 8)
            before.append(bool(bits[offset // 8] & mask))
            bits[offset // 8] |= mask
        entry.value = bytes(bits)
        return before

    async def getbits(self, key: str, offsets: Sequence[int]) -> list[bool]:
        if not offsets:
            return []
        _check_offsets(offsets)
        entry = self._entry(key, _STRING)
        bits = b"" if entry is None else entry.value
        return [offset // 8 < len(bits) and bool(bits[offset // 8] & (0x80 >> (offset % 8)))
                for offset in offsets]

    # --- lifecycle --------------------------------------------------------------------

    async def ping(self) -> None:
        return None

    async def flush(self) -> None:
        self._entries.clear()

    async def close(self) -> None:
        self._entries.clear()
