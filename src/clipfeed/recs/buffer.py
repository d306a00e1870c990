"""The precomputed feed buffer: one cache value per viewer holding the ranked clips not yet
served, with their feature rows (for the impression log), when and by which model it was
built, and when it was last ranked. Older than ``feed_buffer_stale_s`` it is not served; ranked
before the viewer's last strong signal (a like, skip, share, follow or not-interested marks the
viewer dirty) it is ranked again before serving (``clipfeed.recs.compose.rerank``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
import orjson

from clipfeed.infra.cache import Cache
from clipfeed.recs.compose import Ranked
from clipfeed.recs.features import FEATURE_NAMES

_HEADER = struct.Struct("<I")


def buffer_key(viewer: str) -> str:
    return f"recs:buf:{viewer}"


@dataclass
class Buffer:
    built: float
    model: str
    items: list[Ranked] = field(default_factory=list)
    ranked: float = 0.0  # when its order last took the viewer's state into account (default: built)

    def __post_init__(self) -> None:
        self.ranked = self.ranked or self.built

    def encode(self) -> bytes:
        head = orjson.dumps({"t": self.built, "r": self.ranked, "m": self.model, "i": [
            [r.clip_id, r.creator_id, r.source, r.reason, r.score, r.explore] for r in self.items]})
        matrix = (np.stack([r.features for r in self.items]) if self.items
                  else np.zeros((0, len(FEATURE_NAMES)))).astype(np.float32)
        return _HEADER.pack(len(head)) + head + matrix.tobytes()

    @classmethod
    def decode(cls, raw: bytes) -> Buffer:
        (size,) = _HEADER.unpack_from(raw)
        head = orjson.loads(raw[4:4 + size])
        matrix = np.frombuffer(raw[4 + size:], dtype=np.float32).reshape(-1, len(FEATURE_NAMES))
        items = [Ranked(int(c), int(o), s, r, float(sc), matrix[i], bool(e))
                 for i, (c, o, s, r, sc, e) in enumerate(head["i"])]
        return cls(float(head["t"]), str(head["m"]), items, float(head.get("r", head["t"])))


async def load(cache: Cache, viewer: str) -> Buffer | None:
    raw = await cache.get(buffer_key(viewer))
    return None if raw is None else Buffer.decode(raw)


async def store(cache: Cache, viewer: str, buffer: Buffer, ttl: float) -> None:
    await cache.set(buffer_key(viewer), buffer.encode(), ttl=ttl)
