"""What the feed knows about each clip, kept in the cache (the feature store), plus the pools
candidate sources draw from. Written by the recs indexer when a clip becomes ready, visible
and public; removed when it is deleted, rejected, held or made private, so a clip without a
card is never served (the cheapest form of the rejected/deleted/private filter).

Cards carry a 32-dimensional sketch of the 384-dimensional content embedding (a fixed random
projection): enough for diversity and user×clip similarity on the request path at a tenth of
the bytes; the full embedding feeds the content ANN index built offline. They also carry the
caption's first few content words: a viewer's affinities for them are learnt as for hashtags,
so a clip whose hashtag is misleading is still recognised by what its caption says.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from weakref import WeakKeyDictionary

import numpy as np
import orjson

from clipfeed.core.memo import TtlLru
from clipfeed.infra.cache import Cache

EMBED_DIM = 384
WORDS_KEPT = 8  # caption words a card carries for the viewer's word affinities
SKETCH_DIM = 32
CREATOR_CLIPS_KEPT = 100
TAG_CLIPS_KEPT = 500
RECENT_KEPT = 50_000
FRESH_KEPT = 5_000  # beyond the newest this many, a clip has had its chance
CARD_TTL_S = 90 * 24 * 3600.0
_HEADER = struct.Struct("<I")

FRESH_POOL = "recs:pool:fresh"
RECENT_POOL = "recs:pool:recent"


def card_key(clip_id: int) -> str:
    return f"recs:clip:{clip_id}"


def creator_key(creator_id: int) -> str:
    return f"recs:creator:{creator_id}"


def tag_key(tag: str) -> str:
    return f"recs:tag:{tag}"


def _projection() -> np.ndarray:
    # Fixed seed: every process, and every version, projects the same way.
    matrix = np.random.default_rng(20261125).standard_normal((EMBED_DIM, SKETCH_DIM)).astype(np.float32)
    return matrix / np.sqrt(SKETCH_DIM)


PROJECTION = _projection()


def sketch(embedding: np.ndarray | None) -> np.ndarray:
    """The normalised low-dimensional sketch of a content embedding (zeros when unknown)."""
    if embedding is None or not np.any(embedding):
        return np.zeros(SKETCH_DIM, dtype=np.float32)
    small = np.asarray(embedding, dtype=np.float32) @ PROJECTION
    return small / max(float(np.linalg.norm(small)), 1e-9)


@dataclass(slots=True)
class ClipCard:
    id: int
    creator_id: int
    hashtags: tuple[str, ...]
    duration_ms: int
    published: float  # epoch seconds
    language: str | None = None
    region: str | None = None
    sketch: np.ndarray | None = None
    words: tuple[str, ...] = ()  # the caption's content words other than hashtags (``WORDS_KEPT`` at most)

    def encode(self) -> bytes:
        head = {"c": self.creator_id, "h": list(self.hashtags), "d": self.duration_ms, "p": self.published,
                "l": self.language, "r": self.region}
        header = orjson.dumps({**head, "w": list(self.words)} if self.words else head)
        vector = (self.sketch if self.sketch is not None else np.zeros(SKETCH_DIM)).astype(np.float16)
        return _HEADER.pack(len(header)) + header + vector.tobytes()

    @classmethod
    def decode(cls, clip_id: int, raw: bytes) -> ClipCard:
        (size,) = _HEADER.unpack_from(raw)
        head = orjson.loads(raw[4:4 + size])
        vector = np.frombuffer(raw[4 + size:], dtype=np.float16).astype(np.float32)
        return cls(clip_id, int(head["c"]), tuple(head["h"]), int(head["d"]), float(head["p"]),
                   head.get("l"), head.get("r"), vector if len(vector) == SKETCH_DIM else None,
                   tuple(head.get("w", ())))


async def get_cards(cache: Cache, clip_ids: Sequence[int]) -> dict[int, ClipCard]:
    if not clip_ids:
        return {}
    raw = await cache.get_many([card_key(c) for c in clip_ids])
    return {clip_id: ClipCard.decode(clip_id, value)
            for clip_id, value in zip(clip_ids, raw, strict=True) if value is not None}


_RECENT_CARDS: WeakKeyDictionary[Cache, TtlLru[int, ClipCard]] = WeakKeyDictionary()
RECENT_CARDS_TTL_S = 10.0


async def get_cards_recent(cache: Cache, clip_ids: Sequence[int]) -> dict[int, ClipCard]:
    """``get_cards`` through this process's copies of cards read in the last
    ``RECENT_CARDS_TTL_S``: builds read a few hundred cards, mostly the same popular clips.
    Only for candidate filtering: a card removed meanwhile costs one slot, which serving's own
    check of every page against the cache drops."""
    near = _RECENT_CARDS.setdefault(cache, TtlLru(100_000, RECENT_CARDS_TTL_S))
    out: dict[int, ClipCard] = {}
    missing = []
    for clip_id in clip_ids:
        _, card = near.get(clip_id)  # only found cards are kept, so a hit always has one
        if card is not None:
            out[clip_id] = card
        else:
            missing.append(clip_id)
    for clip_id, card in (await get_cards(cache, missing)).items():
        near.put(clip_id, card)
        out[clip_id] = card
    return out


async def put_cards(cache: Cache, cards: Iterable[ClipCard], *, fresh: bool = True,
                    unpooled: frozenset[int] = frozenset()) -> int:
    """Store cards and add their clips to the pools (idempotent: re-indexing changes nothing).
    Clips in ``unpooled`` (other servers' clips kept out of discovery) get their card and their
    creator's list, so Following shows them, and no pool For You or hashtag pages draw from."""
    cards = list(cards)
    if not cards:
        return 0
    await cache.set_many({card_key(c.id): c.encode() for c in cards}, ttl=CARD_TTL_S)
    pooled = [c for c in cards if c.id not in unpooled]
    if pooled:
        await cache.zadd(RECENT_POOL, {str(c.id): c.published for c in pooled})
    if fresh and pooled:
        await cache.zadd(FRESH_POOL, {str(c.id): c.published for c in pooled})
        await cache.ztrim(FRESH_POOL, FRESH_KEPT)
    by_creator: dict[int, dict[str, float]] = {}
    by_tag: dict[str, dict[str, float]] = {}
    for card in cards:
        by_creator.setdefault(card.creator_id, {})[str(card.id)] = card.published
        for tag in card.hashtags if card.id not in unpooled else ():
            by_tag.setdefault(tag, {})[str(card.id)] = card.published
    for creator, scores in by_creator.items():
        await cache.zadd(creator_key(creator), scores)
        await cache.ztrim(creator_key(creator), CREATOR_CLIPS_KEPT)
    for tag, scores in by_tag.items():
        await cache.zadd(tag_key(tag), scores)
        await cache.ztrim(tag_key(tag), TAG_CLIPS_KEPT)
    await cache.ztrim(RECENT_POOL, RECENT_KEPT)
    return len(cards)


async def remove_clip(cache: Cache, clip_id: int, *, creator_id: int | None = None,
                      hashtags: Sequence[str] = ()) -> None:
    """Take a clip out of every feed at once: the card goes (serving drops card-less clips) and
    the pools we can name are cleaned; any other pool entry is skipped at read time."""
    await cache.delete(card_key(clip_id))
    for pool in (FRESH_POOL, RECENT_POOL, *(tag_key(t) for t in hashtags),
                 *([creator_key(creator_id)] if creator_id is not None else [])):
        await cache.zrem(pool, str(clip_id))


def now() -> float:
    return time.time()
