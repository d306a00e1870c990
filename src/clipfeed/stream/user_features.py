"""A viewer's recent interest profile, written by the owner of the viewer's partition of
``activity.users`` (client events and relayed social events of that viewer).

Key ``feat:user:{viewer}`` (the viewer as ``clipfeed.core.viewers`` writes it): JSON with ``L`` (the
landmark, epoch seconds), forward-decayed sums ``tags`` {hashtag: score}, ``creators``
{creator ID: score}, ``plays``/``skips``/``completes``, ``emb``/``emb_w`` (weighted sum of the
content embeddings of clips engaged with, and its weight), ``recent`` (clip IDs played, newest
first), ``ids`` (the last event IDs applied: duplicates and redeliveries are dropped) and
``ts`` (newest event time). A sum ``s`` is worth ``s * 2 ** (-(now - L) / h)`` now (h =
``CLIPFEED_FEATURES_HALF_LIFE_S``), so events add up the same in any order.

Content embeddings come from ``clipfeed.media.features.get_embeddings``; a clip without one
(not processed yet, or the lookup failed) adds nothing to the centroid, which stays ``None``
until some clip has one.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from clipfeed.core import contract
from clipfeed.core.viewers import ViewerId
from clipfeed.media.features import get_embeddings
from clipfeed.stream.activity import Activity
from clipfeed.stream.clip_meta import clip_meta

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

log = structlog.get_logger(__name__)
FEATURE_TTL_S = 30 * 86400.0
KEEP_TOP = 64        # hashtags and creators kept per profile
KEEP_IDS = 512       # event IDs remembered for deduplication
KEEP_RECENT = 50
RESCALE_AFTER = 20   # half-lives past the landmark before sums are rescaled

# Interest each event expresses in the clip's hashtags and creator.
INTEREST = {"play_start": 0.2, "complete": 1.0, "replay": 1.0, "skip": -0.5, "share": 3.0,
            "not_interested": -3.0, contract.LIKE_ADDED.name: 2.0, contract.LIKE_REMOVED.name: -2.0,
            contract.COMMENT_CREATED.name: 1.5, contract.SHARE_CREATED.name: 3.0, contract.BOOKMARK_ADDED.name: 2.0,
            contract.BOOKMARK_REMOVED.name: -2.0}
FOLLOW_INTEREST = {contract.FOLLOW_ADDED.name: 3.0, contract.FOLLOW_REMOVED.name: -3.0}


def user_features_key(viewer: str | int) -> str:
    return f"feat:user:{viewer}"


@dataclass(frozen=True)
class UserFeatures:
    viewer: str
    top_hashtags: list[tuple[str, float]]   # best first, decayed to now
    top_creators: list[tuple[int, float]]
    embedding: list[float] | None           # centroid of engaged clips' embeddings, if known
    plays: float                            # decayed count of plays (recent activity level)
    skip_rate: float                        # skips per play, recent
    completion_rate: float                  # completes per play, recent
    recent_clips: list[int]                 # played, newest first
    updated_at: float                       # newest event time applied


class EmbeddingSource:
    """Content embeddings from the media pipeline, cached per process; absent -> None."""

    def __init__(self) -> None:
        self._known: dict[int, list[float] | None] = {}

    async def get(self, clip_ids: set[int], *, services: Services) -> dict[int, list[float]]:
        missing = [c for c in clip_ids if c not in self._known]
        if missing:
            try:
                found: Mapping[int, Any] = await get_embeddings(db=services.db, clip_ids=missing)
            except Exception as exc:  # their failure must not stop our stream
                log.warning("features.embeddings_unavailable", error=str(exc))
                found = {}
            if len(self._known) > 100_000:
                self._known.clear()
            for clip_id in missing:
                vector = found.get(clip_id)
                self._known[clip_id] = [float(x) for x in vector] if vector is not None else None
        return {c: v for c in clip_ids if (v := self._known.get(c)) is not None}


def _empty(ts: float) -> dict[str, Any]:
    return {"L": math.floor(ts / 86400) * 86400.0, "tags": {}, "creators": {}, "plays": 0.0, "skips": 0.0,
            "completes": 0.0, "emb": None, "emb_w": 0.0, "recent": [], "ids": [], "ts": 0.0}


def _rescale(profile: dict[str, Any], landmark: float, half_life: float) -> None:
    factor = 2.0 ** ((profile["L"] - landmark) / half_life)
    for name in ("tags", "creators"):
        profile[name] = {k: v * factor for k, v in profile[name].items()}
    for name in ("plays", "skips", "completes", "emb_w"):
        profile[name] *= factor
    if profile["emb"] is not None:
        profile["emb"] = [x * factor for x in profile["emb"]]
    profile["L"] = landmark


def _trim(scores: dict[str, float]) -> dict[str, float]:
    if len(scores) <= KEEP_TOP:
        return scores
    return dict(sorted(scores.items(), key=lambda kv: -abs(kv[1]))[:KEEP_TOP])


async def update(activities: list[Activity], embeddings: EmbeddingSource, *, services: Services) -> None:
    """Fold a batch into the profiles of its viewers."""
    by_viewer: dict[str, list[Activity]] = defaultdict(list)
    for activity in activities:
        by_viewer[activity.viewer].append(activity)
    if not by_viewer:
        return
    viewers = sorted(by_viewer)
    stored = await services.cache.get_many([user_features_key(v) for v in viewers])
    clip_ids = {a.clip_id for a in activities if a.clip_id is not None}
    metas = await clip_meta(clip_ids, services=services)
    vectors = await embeddings.get(clip_ids, services=services)
    half_life = services.settings.features_half_life_s
    documents: dict[str, bytes] = {}
    for viewer, raw in zip(viewers, stored, strict=True):
        items = sorted(by_viewer[viewer], key=lambda a: (a.ts, a.id))
        profile = orjson.loads(raw) if raw is not None else _empty(items[0].ts)
        seen = set(profile["ids"])
        for activity in items:
            if activity.id in seen:
                continue
            seen.add(activity.id)
            profile["ids"].append(activity.id)
            if activity.ts - profile["L"] > RESCALE_AFTER * half_life:
                _rescale(profile, math.floor(activity.ts / 86400) * 86400.0, half_life)
            _apply(profile, activity, metas, vectors, 2.0 ** ((activity.ts - profile["L"]) / half_life))
        profile["ids"] = profile["ids"][-KEEP_IDS:]
        profile["tags"], profile["creators"] = _trim(profile["tags"]), _trim(profile["creators"])
        documents[user_features_key(viewer)] = orjson.dumps(profile)
    await services.cache.set_many(documents, ttl=FEATURE_TTL_S)


def _apply(profile: dict[str, Any], activity: Activity, metas: Mapping[int, Any],
           vectors: Mapping[int, list[float]], weight: float) -> None:
    profile["ts"] = max(profile["ts"], activity.ts)
    if activity.type in FOLLOW_INTEREST and activity.followee_id is not None:
        creator = str(activity.followee_id)
        profile["creators"][creator] = profile["creators"].get(creator, 0.0) + FOLLOW_INTEREST[activity.type] * weight
        return
    if activity.type == "play_start":
        profile["plays"] += weight
        if activity.clip_id is not None:
            recent = [c for c in profile["recent"] if c != activity.clip_id]
            profile["recent"] = [activity.clip_id, *recent][:KEEP_RECENT]
    elif activity.type == "skip":
        profile["skips"] += weight
    elif activity.type == "complete":
        profile["completes"] += weight
    interest = INTEREST.get(activity.type, 0.0)
    if not interest or activity.clip_id is None:
        return
    meta = metas.get(activity.clip_id)
    creator_id = activity.creator_id or (meta.owner_id if meta else None)
    amount = interest * weight
    if creator_id:
        profile["creators"][str(creator_id)] = profile["creators"].get(str(creator_id), 0.0) + amount
    for tag in meta.hashtags if meta else ():
        profile["tags"][tag] = profile["tags"].get(tag, 0.0) + amount
    vector = vectors.get(activity.clip_id)
    if vector is not None and amount > 0:
        if profile["emb"] is None or len(profile["emb"]) != len(vector):
            profile["emb"], profile["emb_w"] = [0.0] * len(vector), 0.0
        profile["emb"] = [a + amount * b for a, b in zip(profile["emb"], vector, strict=True)]
        profile["emb_w"] += amount


def _view(viewer: str, profile: dict[str, Any], now: float, half_life: float, top: int) -> UserFeatures:
    decay = 2.0 ** (-(now - profile["L"]) / half_life)

    def best(scores: dict[str, float]) -> list[tuple[str, float]]:
        ranked = sorted(((k, v * decay) for k, v in scores.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:top]

    plays = profile["plays"]
    centroid = None
    if profile["emb"] is not None and profile["emb_w"] > 0:
        centroid = [x / profile["emb_w"] for x in profile["emb"]]
    return UserFeatures(
        viewer=viewer, top_hashtags=best(profile["tags"]),
        top_creators=[(int(k), v) for k, v in best(profile["creators"])], embedding=centroid,
        plays=plays * decay, skip_rate=profile["skips"] / plays if plays > 0 else 0.0,
        completion_rate=min(1.0, profile["completes"] / plays) if plays > 0 else 0.0,
        recent_clips=list(profile["recent"]), updated_at=profile["ts"])


async def get_user_features(*, services: Services, viewers: list[str | int], now: float | None = None,
                            top: int = 20) -> dict[str, UserFeatures]:
    """Profiles of the viewers that have one, by the user ID or viewer key asked for (any form
    ``ViewerId.parse`` reads)."""
    now = time.time() if now is None else now
    keys = [str(v) for v in viewers]
    stored = await services.cache.get_many([user_features_key(ViewerId.parse(k).key) for k in keys])
    half_life = services.settings.features_half_life_s
    return {k: _view(k, orjson.loads(raw), now, half_life, top) for k, raw in zip(keys, stored, strict=True)
            if raw is not None}
