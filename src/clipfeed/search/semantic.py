"""Semantic search: clips whose caption *means* what the query says ("cat falls off table"
finds "missed the counter #fail #kitty"), fused with the lexical ranking.

Vectors: the MiniLM sentence embedding of caption + hashtags (``media.embedding``: the model
the media pipeline loads, offline), one row per listed clip in ``search_clip_vectors``,
written by the ``search-embedder`` processor — apart from the lexical indexer, so a model
load or a slow encode never delays a clip becoming searchable by its words.

At query time an in-process faiss index answers (exact inner product up to
``HNSW_ABOVE`` vectors, HNSW above); it is refreshed from the table when the table's newest
row or row count changes. Deleted or hidden clips left in it are dropped by the visibility
check like every result. Fusion: reciprocal rank fusion (``fuse``) of the two lists."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import sqlalchemy as sa

from clipfeed.clips import service as clips_service
from clipfeed.clips.models import ClipStatus, Visibility
from clipfeed.core.contract import Topic
from clipfeed.core.events import Event
from clipfeed.infra.db import Database, utcnow
from clipfeed.infra.log import Record
from clipfeed.infra.search.tables import SearchClipVector
from clipfeed.media.embedding import TEXT_DIM, caption_text, text_encoder
from clipfeed.runtime.consumers import Processor
from clipfeed.runtime.services import Services

MODEL = "minilm6-caption1"
HNSW_ABOVE = 20_000
MIN_SIMILARITY = 0.35  # below this a neighbour shares little meaning with the query (measured on the set)
NEIGHBOURS = 50
RRF_K = 60  # the usual constant: rank 1 and rank 10 differ by 13%, not 10x
SEMANTIC_WEIGHT = 0.9


async def embed_clips(*, db: Database, clip_ids: list[int], threads: int = 1) -> int:
    """Write the vectors of the listed clips among ``clip_ids``; drop the others'."""
    found = await clips_service.get_many(db=db, clip_ids=clip_ids)
    listed = [c for c in found.values()
              if c.status == ClipStatus.ready.value and c.visibility == Visibility.public.value]
    texts = [caption_text(c.caption, list(c.hashtags or [])) for c in listed]
    vectors = await asyncio.to_thread(text_encoder(threads).encode_many, texts) if listed else None
    async with db.session() as session:
        await session.execute(sa.delete(SearchClipVector).where(SearchClipVector.clip_id.in_(clip_ids)))
        if vectors is not None:
            session.add_all([SearchClipVector(clip_id=c.id, vector=v.astype("<f4").tobytes(), model=MODEL,
                                              updated_at=utcnow())
                             for c, v, t in zip(listed, vectors, texts, strict=True) if t])
    _changed(db)
    return len(listed)


async def clear(*, db: Database) -> None:
    async with db.session() as session:
        await session.execute(sa.delete(SearchClipVector))
    _changed(db)


@dataclass
class _Loaded:
    version: tuple[Any, ...] = ()
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    index: Any = None


_loaded: dict[str, _Loaded] = {}
_lock = asyncio.Lock()

# The vectors' version (row count, newest write) as this process last read it, per database,
# with when to read it again: counting the table's rows on every search cost a scan of it
# (100,000 rows: milliseconds on PostgreSQL). A write by this process reads it at once
# (``_changed``); another process's within ``VERSION_TTL_S``.
VERSION_TTL_S = 1.0
_versions: dict[str, tuple[tuple[Any, ...], float]] = {}
_VERSION = sa.select(sa.func.count(), sa.func.max(SearchClipVector.updated_at))


def _changed(db: Database) -> None:
    _versions.pop(db.url, None)


async def _version(db: Database) -> tuple[Any, ...]:
    kept = _versions.get(db.url)
    now = time.monotonic()
    if kept is not None and kept[1] > now:
        return kept[0]
    async with db.read_session() as session:  # the request's own session when it shares one
        version = tuple((await session.execute(_VERSION)).one())
    _versions[db.url] = (version, now + VERSION_TTL_S)
    return version


async def _current(db: Database) -> _Loaded:
    version = await _version(db)
    known = _loaded.get(db.url)
    if known is not None and known.version == version:
        return known
    async with _lock:
        known = _loaded.get(db.url)
        if known is not None and known.version == version:
            return known
        async with db.session() as session:
            rows = list((await session.execute(sa.select(SearchClipVector.clip_id, SearchClipVector.vector))).all())
        loaded = await asyncio.to_thread(_build, rows, version)
        _loaded[db.url] = loaded
        return loaded


def _build(rows: list[Any], version: tuple[Any, ...]) -> _Loaded:
    import faiss

    ids = np.array([r[0] for r in rows], dtype=np.int64)
    matrix = (np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4").reshape(len(rows), TEXT_DIM)
              if rows else np.zeros((0, TEXT_DIM), dtype=np.float32))
    index: Any
    if len(rows) > HNSW_ABOVE:
        index = faiss.IndexHNSWFlat(TEXT_DIM, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
    else:
        index = faiss.IndexFlatIP(TEXT_DIM)
    if rows:
        index.add(np.ascontiguousarray(matrix, dtype=np.float32))
    return _Loaded(version=version, ids=ids, index=index)


# Query vectors of recent queries (least recently used out): the model is the same for the
# process's life, so a query's vector never goes stale; a popular query skips the model's
# batch window, the hand-off to the model process and the encoding itself (several ms).
QUERY_VECTORS_KEPT = 2048
_query_vectors: OrderedDict[str, np.ndarray] = OrderedDict()


async def query_vector(text: str, *, threads: int = 1) -> np.ndarray:
    """The sentence embedding of a query (``media.embedding``), kept for recent queries."""
    vector = _query_vectors.get(text)
    if vector is not None:
        _query_vectors.move_to_end(text)
        return vector
    vector = await text_encoder(threads).encode(text)
    _query_vectors[text] = vector
    if len(_query_vectors) > QUERY_VECTORS_KEPT:
        _query_vectors.popitem(last=False)
    return vector


async def neighbours(*, db: Database, text: str, limit: int = NEIGHBOURS, threads: int = 1) -> list[int]:
    """Clip IDs whose caption is closest in meaning to ``text``, best first (similarity ≥
    ``MIN_SIMILARITY``)."""
    loaded = await _current(db)
    if not len(loaded.ids):
        return []  # no vectors: do not load the model for nothing
    return _nearest(loaded, await query_vector(text, threads=threads), limit)


async def neighbours_of(*, db: Database, vector: np.ndarray, limit: int = NEIGHBOURS) -> list[int]:
    return _nearest(await _current(db), vector, limit)


def _nearest(loaded: _Loaded, vector: np.ndarray, limit: int) -> list[int]:
    if not len(loaded.ids):
        return []
    scores, rows = loaded.index.search(vector.reshape(1, -1).astype(np.float32), min(limit, len(loaded.ids)))
    return [int(loaded.ids[r]) for s, r in zip(scores[0], rows[0], strict=True) if r >= 0 and s >= MIN_SIMILARITY]


def fuse(lexical: list[int], semantic: list[int], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion: each list gives ``weight / (k + rank)`` to its items. The
    semantic list weighs ``SEMANTIC_WEIGHT``: a clip found by its words outranks one found by
    meaning alone at the same rank (a typo query has no meaning the model knows, and its
    neighbours would otherwise tie with the word match)."""
    fused: dict[int, float] = {}
    for ranking, weight in ((lexical, 1.0), (semantic, SEMANTIC_WEIGHT)):
        for rank, clip_id in enumerate(ranking, start=1):
            fused[clip_id] = fused.get(clip_id, 0.0) + weight / (k + rank)
    return fused


class SearchEmbedder(Processor):
    group: ClassVar[str] = "search-embedder"
    topics: ClassVar[tuple[str, ...]] = (Topic.CLIPS,)
    batch_size: ClassVar[int] = 64

    async def handle(self, records: list[Record]) -> None:
        clip_ids = sorted({int(Event.decode(r.value).key) for r in records})
        await embed_clips(db=self.services.db, clip_ids=clip_ids, threads=self.services.settings.embedding_threads)


SEMANTIC_PROCESSORS: list[Callable[[Services], Processor]] = [SearchEmbedder]
