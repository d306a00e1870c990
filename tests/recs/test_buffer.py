"""The buffer's versioned write-back: a writer that lost the race merges with the newer
version instead of replacing it."""

from __future__ import annotations

import numpy as np

from clipfeed.infra.cache.memory import MemoryCache
from clipfeed.recs import buffer as buffers
from clipfeed.recs.compose import Ranked
from clipfeed.recs.features import FEATURE_NAMES


def _ranked(*clip_ids: int) -> list[Ranked]:
    return [Ranked(c, 1, "test", "test", float(-c), np.full(len(FEATURE_NAMES), c, np.float32)) for c in clip_ids]


async def test_a_write_back_over_a_newer_version_keeps_both_writers_clips_once() -> None:
    cache = MemoryCache()
    await buffers.store(cache, "u:1", buffers.Buffer(100.0, "m", _ranked(1, 2, 3, 4)), ttl=60)
    page = await buffers.load(cache, "u:1")  # a page reads the buffer and serves 1 and 2
    refill = await buffers.load(cache, "u:1")  # a refill reads it too and appends 5 and 6
    assert page and refill
    refill.items += _ranked(5, 6)
    refill.ranked = 150.0
    assert await buffers.update(cache, "u:1", refill, ttl=60)
    page.items = page.items[2:] + _ranked(7)  # what it did not serve, and a clip it built itself
    page.ranked = 200.0
    assert await buffers.update(cache, "u:1", page, ttl=60, drop={1, 2})
    stored = await buffers.load(cache, "u:1")
    assert stored is not None
    assert [r.clip_id for r in stored.items] == [3, 4, 5, 6, 7]
    assert stored.ranked == 150.0  # the older order decides whether a signal re-ranks it
    assert [float(r.features[0]) for r in stored.items] == [3, 4, 5, 6, 7]


async def test_a_write_back_after_the_buffer_expired_stores_it_anew() -> None:
    cache = MemoryCache()
    await buffers.store(cache, "u:1", buffers.Buffer(100.0, "m", _ranked(1, 2)), ttl=60)
    page = await buffers.load(cache, "u:1")
    assert page is not None
    await cache.delete(buffers.buffer_key("u:1"))
    page.items = page.items[1:]
    assert await buffers.update(cache, "u:1", page, ttl=60, drop={1})
    stored = await buffers.load(cache, "u:1")
    assert stored is not None and [r.clip_id for r in stored.items] == [2]
