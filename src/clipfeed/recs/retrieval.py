"""Learned retrieval: ALS factors from implicit feedback with an HNSW index (faiss) over the
clip factors, item-to-item co-engagement neighbours, and an HNSW index over content sketches.

Built by the batch role (``clipfeed.recs.training``), saved as one snapshot in the object store
(``recs/retrieval/<version>.npz``, then ``recs/retrieval/latest.json`` is pointed at it, so a
process killed mid-save leaves the previous snapshot in service), loaded by serving processes
when the pointer moves. Viewers unknown to the snapshot, and viewers whose taste moved since,
get a vector folded in from their latest positive clips.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import scipy.sparse as sp
import structlog

from clipfeed.infra.blobs import BlobNotFound, BlobStore
from clipfeed.infra.cache import Cache
from clipfeed.recs.offline.baselines import factor_arrays, fit_factors

POINTER = "recs/retrieval/latest.json"
I2I_KEPT = 20
log = structlog.get_logger(__name__)


def i2i_key(clip_id: int) -> str:
    return f"recs:i2i:{clip_id}"


def _hnsw(vectors: np.ndarray) -> Any:
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 40
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    index.hnsw.efSearch = 64
    return index


@dataclass
class Snapshot:
    version: str
    clip_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    item_factors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    viewers: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    viewer_factors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    content_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    content_vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    collab_index: Any = None
    content_index: Any = None
    _rows: dict[int, int] = field(default_factory=dict)
    _viewer_rows: dict[str, int] = field(default_factory=dict)

    def prepare(self) -> Snapshot:
        self._rows = {int(c): i for i, c in enumerate(self.clip_ids)}
        self._viewer_rows = {str(v): i for i, v in enumerate(self.viewers)}
        return self

    def viewer_vector(self, viewer: str, recent: list[int]) -> np.ndarray | None:
        """The trained vector blended with one folded in from the latest positives."""
        trained = self._viewer_rows.get(viewer)
        rows = [self._rows[c] for c in recent[:10] if c in self._rows]
        parts = []
        if trained is not None:
            parts.append(self.viewer_factors[trained])
        if rows:
            weights = 0.85 ** np.arange(len(rows))
            folded = (self.item_factors[rows] * weights[:, None]).sum(axis=0) / weights.sum()
            scale = np.linalg.norm(parts[0]) if parts else 1.0
            parts.append(folded / max(float(np.linalg.norm(folded)), 1e-9) * scale)
        return np.mean(parts, axis=0) if parts else None

    def search_collab(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        return _search(self.collab_index, self.clip_ids, vector, k)

    def search_content(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        return _search(self.content_index, self.content_ids, vector, k)

    def to_bytes(self) -> bytes:
        import faiss

        buffer = io.BytesIO()
        np.savez(buffer, clip_ids=self.clip_ids, item_factors=self.item_factors, viewers=self.viewers,
                 viewer_factors=self.viewer_factors, content_ids=self.content_ids,
                 collab_index=faiss.serialize_index(self.collab_index) if self.collab_index else np.zeros(0, np.uint8),
                 content_index=faiss.serialize_index(self.content_index) if self.content_index
                 else np.zeros(0, np.uint8))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, version: str, raw: bytes) -> Snapshot:
        import faiss

        data = np.load(io.BytesIO(raw), allow_pickle=False)
        snap = cls(version, data["clip_ids"], data["item_factors"], data["viewers"], data["viewer_factors"],
                   data["content_ids"])
        snap.collab_index = faiss.deserialize_index(data["collab_index"]) if len(data["collab_index"]) else None
        snap.content_index = faiss.deserialize_index(data["content_index"]) if len(data["content_index"]) else None
        return snap.prepare()


def _search(index: Any, ids: np.ndarray, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
    if index is None or not len(ids) or k <= 0:
        return []
    scores, rows = index.search(np.ascontiguousarray(vector[None, :], dtype=np.float32), min(k, len(ids)))
    return [(int(ids[r]), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]


def co_engagement(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """Cosine similarity between clips over the viewers who engaged with both, kept sparse
    (a dense clips × clips matrix would not fit for a real catalogue)."""
    binary = matrix.tocsc(copy=True).astype(np.float32)
    binary.data[:] = 1.0
    overlap = (binary.T @ binary).tocsr()
    norms = np.sqrt(np.maximum(overlap.diagonal(), 1.0))
    scale = sp.diags(1.0 / norms)
    similarity = (scale @ overlap @ scale).tocsr()
    similarity.setdiag(0.0)
    similarity.eliminate_zeros()
    return similarity


def build_snapshot(version: str, viewers: list[str], clips: list[int], weights: list[float], *,
                   content: dict[int, np.ndarray], factors: int = 32) -> tuple[Snapshot, dict[int, list[int]]]:
    """ALS on the viewer × clip engagement matrix, HNSW indexes, and co-engagement neighbours."""
    viewer_ids, viewer_rows = np.unique(np.array(viewers, dtype=str), return_inverse=True)
    clip_ids, clip_rows = np.unique(np.array(clips, dtype=np.int64), return_inverse=True)
    snap = Snapshot(version)
    neighbours: dict[int, list[int]] = {}
    if len(viewer_ids) >= 2 and len(clip_ids) >= 2:
        matrix = sp.csr_matrix((np.array(weights, dtype=np.float32), (viewer_rows, clip_rows)),
                               shape=(len(viewer_ids), len(clip_ids)))
        model = fit_factors(matrix, kind="als", factors=min(factors, len(clip_ids) - 1),
                            regularization=0.05, alpha=5.0, iterations=15)
        user_factors, item_factors = factor_arrays(model)
        snap.clip_ids, snap.item_factors = clip_ids, item_factors.astype(np.float32)
        snap.viewers, snap.viewer_factors = viewer_ids, user_factors.astype(np.float32)
        snap.collab_index = _hnsw(snap.item_factors)
        similarity = co_engagement(matrix)
        for row in range(similarity.shape[0]):
            start, end = similarity.indptr[row], similarity.indptr[row + 1]
            if start == end:
                continue
            values = similarity.data[start:end]
            best = np.argsort(-values)[:I2I_KEPT]
            neighbours[int(clip_ids[row])] = [int(clip_ids[similarity.indices[start + i]]) for i in best]
    if content:
        snap.content_ids = np.array(list(content), dtype=np.int64)
        snap.content_vectors = np.stack(list(content.values())).astype(np.float32)
        snap.content_index = _hnsw(snap.content_vectors)
    return snap.prepare(), neighbours


async def save_snapshot(blobs: BlobStore, cache: Cache, snap: Snapshot, neighbours: dict[int, list[int]]) -> None:
    await blobs.put(f"recs/retrieval/{snap.version}.npz", snap.to_bytes())
    if neighbours:
        await cache.set_many({i2i_key(c): np.array(n, dtype=np.int64).tobytes() for c, n in neighbours.items()},
                             ttl=14 * 24 * 3600.0)
    await blobs.put(POINTER, orjson.dumps({"version": snap.version, "at": time.time()}))


async def neighbours_of(cache: Cache, clip_ids: list[int]) -> dict[int, list[int]]:
    raw = await cache.get_many([i2i_key(c) for c in clip_ids])
    return {c: np.frombuffer(v, dtype=np.int64).tolist() for c, v in zip(clip_ids, raw, strict=True) if v}


@dataclass
class LoadedRetrieval:
    poll_s: float = 30.0
    snapshot: Snapshot | None = None
    checked: float = 0.0

    async def refresh(self, blobs: BlobStore, *, force: bool = False) -> Snapshot | None:
        if not force and time.monotonic() - self.checked < self.poll_s:
            return self.snapshot
        self.checked = time.monotonic()
        try:
            pointer = orjson.loads(await blobs.get(POINTER))
            if self.snapshot is None or self.snapshot.version != pointer["version"]:
                raw = await blobs.get(f"recs/retrieval/{pointer['version']}.npz")
                self.snapshot = Snapshot.from_bytes(pointer["version"], raw)
        except BlobNotFound:
            pass
        except Exception as exc:
            log.warning("recs.retrieval_unreadable", error=str(exc))
        return self.snapshot


RETRIEVAL: dict[int, LoadedRetrieval] = {}


def loaded_retrieval(blobs: BlobStore, poll_s: float) -> LoadedRetrieval:
    return RETRIEVAL.setdefault(id(blobs), LoadedRetrieval(poll_s=poll_s))
