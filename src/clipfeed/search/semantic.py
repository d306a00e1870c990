"""Semantic search: clips whose caption *means* what the query says ("cat falls off table"
finds "missed the counter #fail #kitty"), fused with the lexical ranking.

Vectors: the MiniLM sentence embedding of caption + hashtags (``media.embedding``: the model
the media pipeline loads, offline), one row per listed clip in ``search_clip_vectors``,
written by the ``search-embedder`` processor — apart from the lexical indexer, so a model
load or a slow encode never delays a clip becoming searchable by its words.

At query time an in-process faiss index answers (exact inner product up to
``APPROXIMATE_ABOVE`` vectors, inverted lists above); the rows written since it was built are
added to it when the table's newest row or row count changes, and it is rebuilt once enough of
it is stale (``_brought_up_to``). Deleted or hidden clips left in it are dropped by the visibility
check like every result. Fusion: reciprocal rank fusion (``fuse``) of the two lists."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
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
APPROXIMATE_ABOVE = 20_000
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
    newest: Any = None  # the newest ``updated_at`` among the rows the index holds
    recent: dict[int, Any] = field(default_factory=dict)  # clip → ``updated_at``, for the last OVERLAP


_loaded: dict[str, _Loaded] = {}
_lock = asyncio.Lock()

# The vectors' version (row count, newest write) as this process last read it, per database,
# with when to read each again. The newest write (an index's last entry) is read at most once
# per ``VERSION_TTL_S``; the count, a scan of the table (94 ms at 100,000 vectors on
# PostgreSQL), once per ``COUNT_TTL_S``: it only tells that rows were deleted, and deleted clips
# are dropped from answers by the visibility check meanwhile. A write by this process reads both
# at once (``_changed``); another process's new vectors show within ``VERSION_TTL_S``.
VERSION_TTL_S = 1.0
COUNT_TTL_S = 60.0
_versions: dict[str, tuple[tuple[Any, ...], float, float]] = {}
_NEWEST = sa.select(sa.func.max(SearchClipVector.updated_at))
_COUNT = sa.select(sa.func.count()).select_from(SearchClipVector)
# A change adds the rows written since the index's newest to it (each new clip's vector, one
# at a time as clips get ready): rebuilding it for each one cost a minute of CPU per serving
# process at 100,000 vectors. Rows deleted (clips hidden or removed) and replaced (a caption
# edited) stay in the index until it is rebuilt, which happens once they are more than
# ``STALE_SHARE`` of it; the visibility check drops the deleted ones from every answer
# meanwhile, and a replaced one is found by its new vector and, until then, its old one too.
ADD_AT_MOST = 5_000
STALE_SHARE = 0.1
# Rows are asked from OVERLAP before the newest one held, and those already held skipped: a
# row stamped before the newest but committed after it was read is still added.
OVERLAP = timedelta(minutes=1)


def _changed(db: Database) -> None:
    _versions.pop(db.url, None)


async def _version(db: Database) -> tuple[Any, ...]:
    kept = _versions.get(db.url)
    now = time.monotonic()
    if kept is not None and kept[1] > now:
        return kept[0]
    async with db.read_session() as session:  # the request's own session when it shares one
        newest = await session.scalar(_NEWEST)
        if kept is None or kept[2] <= now:
            count, count_until = await session.scalar(_COUNT), now + COUNT_TTL_S
        else:
            count, count_until = kept[0][0], kept[2]
    version = (count, newest)
    _versions[db.url] = (version, now + VERSION_TTL_S, count_until)
    return version


async def _current(db: Database) -> _Loaded:
    version = await _version(db)
    known = _loaded.get(db.url)
    if known is not None and (known.version == version or _lock.locked()):
        return known  # up to date, or being brought up to date by another search: what there is
    async with _lock:
        known = _loaded.get(db.url)
        if known is not None and known.version == version:
            return known
        _loaded[db.url] = await _brought_up_to(db, known, version)
        return _loaded[db.url]


async def _brought_up_to(db: Database, known: _Loaded | None, version: tuple[Any, ...]) -> _Loaded:
    count, newest = version
    if known is not None and known.newest is not None and newest is not None:
        since = known.newest - OVERLAP
        async with db.session() as session:
            found = list((await session.execute(
                sa.select(SearchClipVector.clip_id, SearchClipVector.vector, SearchClipVector.updated_at)
                .where(SearchClipVector.updated_at > since).limit(ADD_AT_MOST + 1))).all())
        rows = [r for r in found if known.recent.get(r[0]) != r[2]]
        # Entries beyond the table's rows: deleted or replaced ones. Judged when the count was
        # read again (a count kept from before these rows would take them for stale ones).
        stale = len(known.ids) + len(rows) - count if count != known.version[0] else 0
        if len(found) <= ADD_AT_MOST and stale <= STALE_SHARE * max(count, 1):
            if rows:
                known.index.add(_matrix(rows))  # a few vectors: no thread needed
                known.ids = np.concatenate([known.ids, np.array([r[0] for r in rows], dtype=np.int64)])
            known.version, known.newest = version, max(newest, known.newest)
            known.recent = {r[0]: r[2] for r in found if r[2] > known.newest - OVERLAP}
            return known
    async with db.session() as session:
        rows = list((await session.execute(
            sa.select(SearchClipVector.clip_id, SearchClipVector.vector, SearchClipVector.updated_at))).all())
    return await asyncio.to_thread(_build, rows, version)


def _matrix(rows: list[Any]) -> np.ndarray:
    if not rows:
        return np.zeros((0, TEXT_DIM), dtype=np.float32)
    return np.ascontiguousarray(np.frombuffer(b"".join(r[1] for r in rows), dtype="<f4")
                                .reshape(len(rows), TEXT_DIM), dtype=np.float32)


def _build(rows: list[Any], version: tuple[Any, ...]) -> _Loaded:
    """A new index of ``rows``: exact up to ``APPROXIMATE_ABOVE`` vectors; above, inverted
    lists (k-means cells, ``sqrt(n)`` of them, the closest tenth searched): built in 4 s at
    100,000 vectors where a graph (HNSW) took 60 s of CPU, and 0.5 ms a search against 8 for
    the exact scan; new vectors join their nearest cell."""
    import faiss

    ids = np.array([r[0] for r in rows], dtype=np.int64)
    matrix = _matrix(rows)
    index: Any
    if len(rows) > APPROXIMATE_ABOVE:
        cells = int(np.sqrt(len(rows)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(TEXT_DIM), TEXT_DIM, cells, faiss.METRIC_INNER_PRODUCT)
        index.train(matrix)
        index.nprobe = max(1, cells // 10)
    else:
        index = faiss.IndexFlatIP(TEXT_DIM)
    if rows:
        index.add(matrix)
    newest = version[1]
    recent = {r[0]: r[2] for r in rows if newest is not None and r[2] > newest - OVERLAP}
    return _Loaded(version=version, ids=ids, index=index, newest=newest, recent=recent)


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
    # A clip whose vector was replaced is in the index twice until it is rebuilt: once here.
    return list(dict.fromkeys(int(loaded.ids[r]) for s, r in zip(scores[0], rows[0], strict=True)
                              if r >= 0 and s >= MIN_SIMILARITY))


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
