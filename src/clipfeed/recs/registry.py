"""The model registry: versioned ranker artefacts in the object store.

Layout: ``recs/models/<version>/model.json`` holds the boosters, the feature schema, the
training window and metrics; ``recs/models/registry.json`` names the serving model
(``current``), the promotion history (for rollback) and an optional ``shadow`` model that is
scored beside the current one without affecting feeds. Serving processes poll the registry
every ``feed_model_poll_s`` and swap models without a restart.

Writes: a model file is written whole before the registry names it (the blob store's put is
atomic), so a process killed mid-save leaves an unreferenced file and never a broken model.
Promotions are read-modify-write of one small file; operators promote one at a time.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from clipfeed.infra.blobs import BlobNotFound, BlobStore
from clipfeed.recs.features import FEATURE_NAMES
from clipfeed.recs.ranker import HeuristicRanker, ModelRanker, Ranker

PREFIX = "recs/models"
INDEX = f"{PREFIX}/registry.json"
log = structlog.get_logger(__name__)


def new_version() -> str:
    return datetime.now(UTC).strftime("m%Y%m%d-%H%M%S-") + secrets.token_hex(2)


async def read_index(blobs: BlobStore) -> dict[str, Any]:
    try:
        return dict(orjson.loads(await blobs.get(INDEX)))
    except BlobNotFound:
        return {"current": None, "history": [], "shadow": None, "models": {}}


async def _write_index(blobs: BlobStore, index: dict[str, Any]) -> None:
    await blobs.put(INDEX, orjson.dumps(index, option=orjson.OPT_INDENT_2), content_type="application/json")


async def save_model(blobs: BlobStore, ranker: ModelRanker, *, metrics: dict[str, float],
                     window: tuple[float, float], promote: bool = False) -> str:
    created = datetime.now(UTC).isoformat()
    summary = {"created_at": created, "metrics": metrics, "feature_schema_size": len(ranker.schema),
               "training_window": {"from": datetime.fromtimestamp(window[0], UTC).isoformat(),
                                   "to": datetime.fromtimestamp(window[1], UTC).isoformat()}}
    document = {"version": ranker.version, "feature_schema": ranker.schema, "models": ranker.to_strings(),
                **summary}
    await blobs.put(f"{PREFIX}/{ranker.version}/model.json", orjson.dumps(document),
                    content_type="application/json")
    index = await read_index(blobs)
    index["models"][ranker.version] = summary
    await _write_index(blobs, index)
    if promote:
        await promote_model(blobs, ranker.version)
    return ranker.version


async def load_model(blobs: BlobStore, version: str) -> ModelRanker:
    document = orjson.loads(await blobs.get(f"{PREFIX}/{version}/model.json"))
    return ModelRanker.from_strings(version, document["models"], list(document["feature_schema"]))


async def promote_model(blobs: BlobStore, version: str) -> None:
    index = await read_index(blobs)
    if version not in index["models"]:
        raise KeyError(f"no model {version} in the registry")
    if index["current"] and index["current"] != version:
        index["history"].append(index["current"])
    index["current"] = version
    if index.get("shadow") == version:
        index["shadow"] = None
    await _write_index(blobs, index)


async def rollback_model(blobs: BlobStore) -> str | None:
    """Serve the previously promoted model again; returns it (None: back to the heuristic)."""
    index = await read_index(blobs)
    index["current"] = index["history"].pop() if index["history"] else None
    await _write_index(blobs, index)
    return index["current"]


async def set_shadow(blobs: BlobStore, version: str | None) -> None:
    index = await read_index(blobs)
    if version is not None and version not in index["models"]:
        raise KeyError(f"no model {version} in the registry")
    index["shadow"] = version
    await _write_index(blobs, index)


@dataclass
class LoadedModels:
    """What one serving process uses now; refreshed from the registry every ``poll_s``."""

    poll_s: float = 30.0
    current: Ranker = field(default_factory=HeuristicRanker)
    shadow: Ranker | None = None
    checked: float = 0.0

    async def refresh(self, blobs: BlobStore, *, force: bool = False) -> None:
        if not force and time.monotonic() - self.checked < self.poll_s:
            return
        self.checked = time.monotonic()
        try:
            index = await read_index(blobs)
            self.current = await self._ranker(blobs, index.get("current"), self.current)
            shadow = index.get("shadow")
            self.shadow = None if not shadow else await self._ranker(blobs, shadow, self.shadow)
        except Exception as exc:  # the feed keeps its last model when the store hiccups
            log.warning("recs.registry_unreadable", error=str(exc))

    @staticmethod
    async def _ranker(blobs: BlobStore, version: str | None, have: Ranker | None) -> Ranker:
        if not version:
            return HeuristicRanker()
        if have is not None and have.version == version:
            return have
        model = await load_model(blobs, version)
        if model.schema != FEATURE_NAMES:
            log.error("recs.model_schema_mismatch", version=version)
            return HeuristicRanker()
        return model


MODELS: dict[int, LoadedModels] = {}


def loaded_models(blobs: BlobStore, poll_s: float) -> LoadedModels:
    """One ``LoadedModels`` per blob store (per ``Services``) in this process."""
    return MODELS.setdefault(id(blobs), LoadedModels(poll_s=poll_s))
