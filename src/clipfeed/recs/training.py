"""Training data and the training job.

Impression log: each clip served is recorded with its feature row as ranked (point-in-time
features), its source, slot and model, under ``recs:imp:<viewer>:<clip>``; feedback events add
labels under ``recs:lab:<viewer>:<clip>``. Half an hour after an impression (longer than any
watch of a short clip) the batch role closes it into a Parquet row in the object store,
``recs/impressions/date=<day>/<hour>-<id>.parquet``: one row per impression with labels
completion, like, share, watch_ms. Rows are written before their cache entries are dropped,
so a job killed half-way writes some rows again at worst (duplicates of a few impressions),
never loses them.

Training (``clipfeed worker batch`` every ``feed_train_interval_s``, or ``clipfeed recs train``):
the ranker (one booster per objective, ``clipfeed.recs.ranker``) and the retrieval snapshot
(``clipfeed.recs.retrieval``) from the last ``days`` of rows.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import structlog

from clipfeed.infra.cache import Write
from clipfeed.recs.cards import RECENT_POOL, get_cards
from clipfeed.recs.compose import Ranked
from clipfeed.recs.features import FEATURE_NAMES

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

OPEN = "recs:imp:open"
IMPRESSION_TTL_S = 6 * 3600.0
CLOSE_AFTER_S = 1800.0
PREFIX = "recs/impressions"
LABELS = ("complete", "like", "share", "watch_ms", "skip")
# The label each kind of feedback sets (watch time is added separately).
LABEL_FIELDS = {"complete": "complete", "replay": "complete", "like": "like", "share": "share",
                "skip": "skip", "not_interested": "skip"}
log = structlog.get_logger(__name__)


def imp_key(viewer: str, clip_id: int) -> str:
    return f"recs:imp:{viewer}:{clip_id}"


def lab_key(viewer: str, clip_id: int) -> str:
    return f"recs:lab:{viewer}:{clip_id}"


def served_writes(*, viewer: str, items: list[Ranked], model: str, session: str, region: str) -> list[Write]:
    """The cache writes that log a page's impressions, for the page to send with its own
    (``Cache.write_many``): each impression's record, then its entry in the open list, scored by
    minus the time so that ``ztop`` lists the oldest first. A process that dies part-way may
    leave impressions unlisted (they expire unlogged) or listed without their record (closing
    skips those): training loses a page's rows, nothing else."""
    if not items:
        return []
    at = time.time()
    return [*(Write("set", imp_key(viewer, r.clip_id), (orjson.dumps({
        "t": at, "m": model, "s": r.source, "r": r.reason, "e": r.explore, "x": session, "g": region,
        "f": r.features.tolist()}),), ttl=IMPRESSION_TTL_S) for r in items),
        Write("zadd", OPEN, ({f"{viewer}|{r.clip_id}": -at for r in items},))]


async def close_impressions(*, services: Services, older_than: float = CLOSE_AFTER_S, batch: int = 5000) -> int:
    """Write impressions older than ``older_than`` seconds as Parquet rows; returns how many."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    cache, written = services.cache, 0
    cutoff = time.time() - older_than
    while True:
        oldest = [(m, -s) for m, s in await cache.ztop(OPEN, batch) if -s <= cutoff]
        if not oldest:
            return written
        pairs = [(m.rsplit("|", 1)[0], int(m.rsplit("|", 1)[1])) for m, _ in oldest]
        served = await cache.get_many([imp_key(v, c) for v, c in pairs])
        labels = await cache.hget_many([lab_key(v, c) for v, c in pairs])
        rows: dict[str, list[Any]] = {k: [] for k in ("viewer", "clip_id", "at", "model", "source", "reason",
                                                      "explore", "session", "region", "features", *LABELS)}
        for (viewer, clip_id), raw, found in zip(pairs, served, labels, strict=True):
            if raw is None:
                continue
            record = orjson.loads(raw)
            rows["viewer"].append(viewer)
            rows["clip_id"].append(clip_id)
            rows["at"].append(record["t"])
            rows["model"].append(record["m"])
            rows["source"].append(record["s"])
            rows["reason"].append(record["r"])
            rows["explore"].append(bool(record["e"]))
            rows["session"].append(record["x"])
            rows["region"].append(record["g"])
            rows["features"].append([float(x) for x in record["f"]])
            for name in LABELS:
                rows[name].append(float(found.get(name, b"0")))
        if rows["viewer"]:
            day = datetime.fromtimestamp(min(rows["at"]), UTC)
            sink = io.BytesIO()
            pq.write_table(pa.table(rows), sink, compression="zstd")
            key = f"{PREFIX}/date={day:%Y-%m-%d}/{day:%H}-{secrets.token_hex(6)}.parquet"
            await services.blobs.put(key, sink.getvalue())
            written += len(rows["viewer"])
        await cache.zrem(OPEN, *(m for m, _ in oldest))
        await cache.delete(*(imp_key(v, c) for v, c in pairs), *(lab_key(v, c) for v, c in pairs))


async def read_impressions(*, services: Services, days: int = 14) -> Any:
    """The impression rows of the last ``days`` days as one Arrow table (None when empty)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    since = (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%d")
    tables = []
    async for info in services.blobs.list(PREFIX + "/"):
        day = info.key.split("date=", 1)[-1][:10]
        if day >= since:
            tables.append(pq.read_table(io.BytesIO(await services.blobs.get(info.key))))
    return pa.concat_tables(tables) if tables else None


async def train(*, services: Services, days: int = 14, promote: bool = True,
                min_rows: int = 200) -> dict[str, Any]:
    """Retrain retrieval and the ranker from the impression log; the new ranker is promoted
    when asked and when it beats the current one's AUCs (or there is none)."""
    from clipfeed.recs import registry
    from clipfeed.recs.ranker import ModelRanker, train_ranker
    from clipfeed.recs.retrieval import build_snapshot, save_snapshot

    table = await read_impressions(days=days, services=services)
    report: dict[str, Any] = {"rows": 0 if table is None else table.num_rows}
    content = await _content_sketches(services=services)
    if table is not None:
        data = table.to_pydict()
        viewers, clips, weights = [], [], []
        for viewer, clip_id, complete, like, share in zip(data["viewer"], data["clip_id"], data["complete"],
                                                          data["like"], data["share"], strict=True):
            weight = complete + 2 * like + 3 * share
            if weight > 0:
                viewers.append(viewer)
                clips.append(clip_id)
                weights.append(weight)
        snapshot, neighbours = await asyncio.to_thread(
            build_snapshot, registry.new_version(), viewers, clips, weights, content=content)
        await save_snapshot(services.blobs, services.cache, snapshot, neighbours)
        report["retrieval"] = snapshot.version
        report["ranker_skipped"] = _why_no_ranker(table.num_rows, min_rows)
        if table.num_rows >= min_rows:
            features = np.array(data["features"], dtype=np.float32)
            if features.shape[1] != len(FEATURE_NAMES):
                report["ranker_skipped"] = (f"the impressions carry {features.shape[1]} features, the ranker "
                                            f"takes {len(FEATURE_NAMES)}: they were logged by another version")
            else:
                labels = {"completion": np.array(data["complete"]), "like": np.array(data["like"]),
                          "share": np.array(data["share"]), "watch": np.array(data["watch_ms"])}
                times = np.array(data["at"])
                boosters, metrics = await asyncio.to_thread(train_ranker, features, labels, times)
                model = ModelRanker(registry.new_version(), boosters)
                better = await _beats_current(metrics, services=services)
                await registry.save_model(services.blobs, model, metrics=metrics,
                                          window=(float(times.min()), float(times.max())),
                                          promote=promote and better)
                report.update(model=model.version, metrics=metrics, promoted=promote and better)
    else:
        report["ranker_skipped"] = _why_no_ranker(0, min_rows)
    if table is None and content:
        snapshot, neighbours = await asyncio.to_thread(build_snapshot, registry.new_version(), [], [], [],
                                                       content=content)
        await save_snapshot(services.blobs, services.cache, snapshot, neighbours)
        report["retrieval"] = snapshot.version
    if report.get("ranker_skipped") is None:
        report.pop("ranker_skipped", None)
    return report


def _why_no_ranker(rows: int, min_rows: int) -> str | None:
    """Why no ranker was trained, in words an operator can act on (None when one can be)."""
    if rows >= min_rows:
        return None
    # Fewer rows than this give AUCs that are noise; the promotion test would compare noise.
    return (f"only {rows} closed impressions in the window; the ranker needs at least {min_rows} "
            f"({min_rows - rows} more). Feeds keep the current ranker (or the heuristic one) meanwhile")


async def _beats_current(metrics: dict[str, float], *, services: Services) -> bool:
    from clipfeed.recs import registry

    index = await registry.read_index(services.blobs)
    current = index["models"].get(index.get("current") or "", {}).get("metrics")
    if not current:
        return True
    keys = [k for k in metrics if k.endswith("_auc") and k in current]
    return sum(metrics[k] for k in keys) >= sum(current[k] for k in keys) - 0.005 * len(keys)


async def _content_sketches(*, services: Services) -> dict[int, np.ndarray]:
    """Sketches of the most recent clips, for the content ANN index."""
    members = await services.cache.ztop(RECENT_POOL, 50_000)
    out: dict[int, np.ndarray] = {}
    ids = [int(m) for m, _ in members]
    for start in range(0, len(ids), 2000):
        cards = await get_cards(services.cache, ids[start:start + 2000])
        out.update({c: card.sketch for c, card in cards.items() if card.sketch is not None and np.any(card.sketch)})
    return out
