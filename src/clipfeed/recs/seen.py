"""The per-viewer seen set: a Bloom filter in the cache (a bitmap, ``setbits``/``getbits``).

A Bloom filter never forgets a clip it was told about (no false negatives: a served clip never
comes back) and answers "maybe seen" for a small share of unseen clips (false positives: such
a clip is skipped for this viewer, which costs nothing visible). Sized for ``capacity`` clips at
``error_rate``: m = -n·ln p / ln²2 bits, k = m/n·ln 2 hashes (20,000 clips at 0.1 %: 36 KiB,
10 hashes).

Expiry: time is cut into periods of ``ttl`` seconds, each with its own filter; a clip is
added to the current period's filter and checked against the current and the previous one, so
a served clip stays out of the feed for at least ``ttl`` and at most twice that. Each bitmap
expires by itself two periods after it was created.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from clipfeed.infra.cache import Cache


@dataclass(frozen=True)
class SeenFilter:
    capacity: int = 20_000
    error_rate: float = 0.001
    ttl: float = 30 * 24 * 3600.0

    @property
    def bits(self) -> int:
        return max(64, math.ceil(-self.capacity * math.log(self.error_rate) / math.log(2) ** 2))

    @property
    def hashes(self) -> int:
        return max(1, round(self.bits / self.capacity * math.log(2)))

    def crossed_period(self, since: float) -> bool:
        """Whether a period boundary lies between ``since`` and now (the previous period's
        filter, checked at ``since``, may have gained clips since)."""
        return int(since // self.ttl) != int(time.time() // self.ttl)

    def _keys(self, viewer: str, at: float | None = None) -> tuple[str, str]:
        period = int((time.time() if at is None else at) // self.ttl)
        return f"recs:seen:{viewer}:{period}", f"recs:seen:{viewer}:{period - 1}"

    def offsets(self, clip_ids: Sequence[int]) -> np.ndarray:
        """``hashes`` bit positions per clip (rows), by double hashing one 128-bit digest."""
        digests = [hashlib.blake2b(int(c).to_bytes(8, "little"), digest_size=16).digest() for c in clip_ids]
        first = np.array([int.from_bytes(d[:8], "little") for d in digests], dtype=np.uint64)
        second = np.array([int.from_bytes(d[8:], "little") | 1 for d in digests], dtype=np.uint64)
        steps = np.arange(self.hashes, dtype=np.uint64)
        with np.errstate(over="ignore"):  # wrapping arithmetic is the point of double hashing
            mixed = first[:, None] + steps[None, :] * second[:, None]
        return (mixed % np.uint64(self.bits)).astype(np.int64)

    async def add(self, cache: Cache, viewer: str, clip_ids: Sequence[int], *, at: float | None = None) -> None:
        if clip_ids:
            current, _ = self._keys(viewer, at)
            await cache.setbits(current, self.offsets(clip_ids).ravel().tolist(), ttl=2 * self.ttl)

    async def seen(self, cache: Cache, viewer: str, clip_ids: Sequence[int], *,
                   at: float | None = None) -> list[bool]:
        """For each clip: True if it may have been served to ``viewer`` (within the TTL)."""
        if not clip_ids:
            return []
        # Many clips at once (a build checks hundreds): fetch both bitmaps whole (36 KiB each at
        # the default size) and test the bits here, rather than ask for thousands of single bits.
        offsets = self.offsets(clip_ids)
        found = np.zeros(len(clip_ids), dtype=bool)
        for bitmap in await cache.get_many(list(self._keys(viewer, at))):
            if bitmap:
                found |= _bits_at(bitmap, offsets).all(axis=1)
        return [bool(x) for x in found]

    async def claim(self, cache: Cache, viewer: str, clip_ids: Sequence[int], *,
                    at: float | None = None, check_previous: bool = True) -> list[bool]:
        """Mark clips seen and say, for each, whether it was new (an atomic test-and-set on the
        current period's bitmap): of two requests claiming one clip, exactly one gets True.
        ``check_previous=False`` when the clips were already checked against the previous
        period during this one (it no longer changes)."""
        if not clip_ids:
            return []
        offsets = self.offsets(clip_ids).ravel().tolist()
        current, previous = self._keys(viewer, at)
        before = np.array(await cache.setbits(current, offsets, ttl=2 * self.ttl)).reshape(len(clip_ids), -1)
        known = np.asarray(before.all(axis=1))
        if check_previous:
            old_bits = np.array(await cache.getbits(previous, offsets)).reshape(len(clip_ids), -1)
            known = known | old_bits.all(axis=1)
        return [not bool(x) for x in known]

    async def forget(self, cache: Cache, viewer: str) -> None:
        await cache.delete(*self._keys(viewer))


def _bits_at(bitmap: bytes, offsets: np.ndarray) -> np.ndarray:
    """The bits of a Redis-style bitmap (offset 0 = the high bit of byte 0) at ``offsets``."""
    data = np.frombuffer(bitmap, dtype=np.uint8)
    byte = offsets // 8
    inside = byte < len(data)
    values = np.zeros(offsets.shape, dtype=bool)
    values[inside] = (data[byte[inside]] >> (7 - offsets[inside] % 8)) & 1 == 1
    return values
