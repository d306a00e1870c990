"""Content retrieval over the newest clips, in each serving process, kept current within seconds.

The content index of the retrieval snapshot (``clipfeed.recs.retrieval``) is rebuilt by the
batch role every few hours, so a clip published since the last retrain cannot be found by
content, however well its caption matches a viewer: it reaches feeds only through the fresh
pool's random draws or its hashtags, which may be wrong. This index closes that gap. Each
process keeps the sketches of the newest ``KEPT`` clips of the catalogue (the recent pool, as
the indexer fills it) in one matrix and searches it by brute force, which for a few tens of
thousands of 32-dimensional sketches costs well under a millisecond. It refreshes at most every
``REFRESH_S``: one read of the pool's newest ``STEP`` members (more only when that many arrived
at once) and the cards of the ones it does not hold; every ``FULL_S`` it reads the whole window
again, to notice clips that were indexed late with an older publication time.

A clip removed from feeds may stay in the matrix until the next full read: every candidate is
checked against its card afterwards (``compose._allowed``), so such a hit costs a slot, never
an appearance.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

import numpy as np

from clipfeed.infra.cache import Cache
from clipfeed.recs.cards import RECENT_POOL, SKETCH_DIM, get_cards

KEPT = 20_000
STEP = 500
REFRESH_S = 2.0
FULL_S = 300.0


@dataclass
class RecentContent:
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, SKETCH_DIM), dtype=np.float32))
    published: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    checked: float = -1e18   # monotonic time of the last refresh
    full: float = -1e18      # of the last full read
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def refresh(self, cache: Cache) -> None:
        if time.monotonic() - self.checked < REFRESH_S:
            return
        async with self.lock:
            if time.monotonic() - self.checked < REFRESH_S:
                return
            whole = time.monotonic() - self.full >= FULL_S
            await (self._read_all(cache) if whole else self._read_new(cache))
            self.checked = time.monotonic()
            if whole:
                self.full = self.checked

    async def _read_new(self, cache: Cache) -> None:
        held = set(self.ids.tolist())
        found: list[tuple[int, float]] = []
        offset = 0
        while offset < KEPT:
            page = [(int(m), s) for m, s in await cache.ztop(RECENT_POOL, STEP, offset=offset)]
            found += [(c, s) for c, s in page if c not in held]
            if len(page) < STEP or any(c in held for c, _ in page):
                break  # reached what this process already holds
            offset += STEP
        if found:
            await self._add(cache, found)

    async def _read_all(self, cache: Cache) -> None:
        members = [(int(m), s) for m, s in await cache.ztop(RECENT_POOL, KEPT)]
        current = {c for c, _ in members}
        keep = np.array([c in current for c in self.ids.tolist()], dtype=bool)
        self.ids, self.vectors, self.published = self.ids[keep], self.vectors[keep], self.published[keep]
        held = set(self.ids.tolist())
        await self._add(cache, [(c, s) for c, s in members if c not in held])

    async def _add(self, cache: Cache, found: list[tuple[int, float]]) -> None:
        cards = await get_cards(cache, [c for c, _ in found])
        new = [(c, s, card.sketch) for c, s in found if (card := cards.get(c)) is not None
               and card.sketch is not None and np.any(card.sketch)]
        if new:
            self.ids = np.concatenate([self.ids, np.array([c for c, _, _ in new], dtype=np.int64)])
            self.vectors = np.concatenate([self.vectors, np.stack([v for _, _, v in new]).astype(np.float32)])
            self.published = np.concatenate([self.published, np.array([s for _, s, _ in new])])
        if len(self.ids) > KEPT:
            newest = np.argsort(-self.published, kind="stable")[:KEPT]
            self.ids, self.vectors, self.published = self.ids[newest], self.vectors[newest], self.published[newest]

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` clips whose sketches are closest to ``vector`` (inner product), best first."""
        if k <= 0 or not len(self.ids):
            return []
        scores = self.vectors @ np.asarray(vector, dtype=np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in top]


_INDEXES: WeakKeyDictionary[Cache, RecentContent] = WeakKeyDictionary()


async def recent_content(cache: Cache) -> RecentContent:
    """This process's index for ``cache`` (refreshed if due)."""
    index = _INDEXES.setdefault(cache, RecentContent())
    await index.refresh(cache)
    return index
