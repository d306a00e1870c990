"""The precomputed feed buffer: one cache value per viewer holding the ranked clips not yet
served, with their feature rows (for the impression log), when and by which model it was
built, and when it was last ranked. Older than ``feed_buffer_stale_s`` it is not served; ranked
before the viewer's last strong signal (a like, skip, share, follow or not-interested marks the
viewer dirty) it is ranked again before serving (``clipfeed.recs.compose.rerank``).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import orjson

from clipfeed.infra.cache import Cache, Write
from clipfeed.recs.compose import Ranked
from clipfeed.recs.features import FEATURE_NAMES

_HEADER = struct.Struct("<I")
STAMP = 8  # bytes of version stamp at the front of a stored buffer
TRIES = 4  # merges a write-back attempts before leaving the newer version as it is


def buffer_key(viewer: str) -> str:
    # "buf2": values carry a version stamp; the unstamped "buf" ones of earlier releases expire.
    return f"recs:buf2:{viewer}"


@dataclass
class Buffer:
    built: float
    model: str
    items: list[Ranked] = field(default_factory=list)
    ranked: float = 0.0  # when its order last took the viewer's state into account (default: built)
    version: bytes | None = None  # the stamp of the stored value it was read from (None: not read)

    def __post_init__(self) -> None:
        self.ranked = self.ranked or self.built

    def encode(self, stamp: bytes) -> bytes:
        head = orjson.dumps({"t": self.built, "r": self.ranked, "m": self.model, "i": [
            [r.clip_id, r.creator_id, r.source, r.reason, r.score, r.explore] for r in self.items]})
        matrix = (np.stack([r.features for r in self.items]) if self.items
                  else np.zeros((0, len(FEATURE_NAMES)))).astype(np.float32)
        return stamp + _HEADER.pack(len(head)) + head + matrix.tobytes()

    @classmethod
    def decode(cls, raw: bytes) -> Buffer:
        (size,) = _HEADER.unpack_from(raw, STAMP)
        start = STAMP + _HEADER.size
        head = orjson.loads(raw[start:start + size])
        matrix = np.frombuffer(raw[start + size:], dtype=np.float32).reshape(-1, len(FEATURE_NAMES))
        items = [Ranked(int(c), int(o), s, r, float(sc), matrix[i], bool(e))
                 for i, (c, o, s, r, sc, e) in enumerate(head["i"])]
        return cls(float(head["t"]), str(head["m"]), items, float(head["r"]), raw[:STAMP])

    def merged_into(self, newer: Buffer, *, drop: Collection[int]) -> Buffer:
        """This buffer's clips after another writer stored ``newer``: newer's order first, then
        this one's clips it lacks, none of ``drop`` (what the page just served). Ranked as of the
        older of the two orders, so a signal since either re-ranks the whole; as fresh as newer."""
        have = set(drop)
        items = []
        for ranked in (*newer.items, *self.items):
            if ranked.clip_id not in have:
                have.add(ranked.clip_id)
                items.append(ranked)
        return Buffer(newer.built, newer.model, items, min(self.ranked, newer.ranked), newer.version)


async def load(cache: Cache, viewer: str) -> Buffer | None:
    raw = await cache.get(buffer_key(viewer))
    return None if raw is None else Buffer.decode(raw)


async def store(cache: Cache, viewer: str, buffer: Buffer, ttl: float) -> None:
    """Replace whatever is stored (a rebuild from the top, which loses nothing by it)."""
    await cache.set(buffer_key(viewer), buffer.encode(os.urandom(STAMP)), ttl=ttl)


async def update(cache: Cache, viewer: str, buffer: Buffer, *, ttl: float, drop: Collection[int] = (),
                 also: Sequence[Write] = ()) -> bool:
    """Write back ``buffer``, read as ``buffer.version`` (None: nothing was stored): as it is if
    the stored value is still that version, else merged into the newer one (``merged_into``),
    trying again if that changes meanwhile too. False when it gave up after ``TRIES`` (the stored
    version, newer, stays: the seen filter drops any clip of ``drop`` still in it). ``also``:
    other writes sent with the first attempt, in the same round trip."""
    key = buffer_key(viewer)
    first = await cache.write_many([Write("set_if", key, (buffer.encode(os.urandom(STAMP)), buffer.version), ttl=ttl),
                                    *also])
    if first[0]:
        return True
    for _ in range(TRIES - 1):
        raw = await cache.get(key)
        newer = None if raw is None else Buffer.decode(raw)
        buffer = (Buffer(buffer.built, buffer.model, buffer.items, buffer.ranked) if newer is None
                  else buffer.merged_into(newer, drop=drop))
        if await cache.set_if(key, buffer.encode(os.urandom(STAMP)), prefix=buffer.version, ttl=ttl):
            return True
    return False
