"""Live features of a clip, written by the owner of the clip's partition.

Key ``feat:clip:{clip_id}``: JSON ``{"w": {window start: [counts in WINDOW_FIELDS order]},
"t": {"scope|era": forward trending score}, "late": late events left out}``; 5-minute
event-time windows, the last hour kept (see ``windows``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from clipfeed.core import contract
from clipfeed.stream import trending
from clipfeed.stream.activity import Activity
from clipfeed.stream.counters import TrendHit
from clipfeed.stream.windows import LIVE_SPAN_S, WINDOW_S, window_of

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

FEATURE_TTL_S = 3 * 86400.0
WINDOW_FIELDS = ("impressions", "plays", "completes", "skips", "replays", "likes", "shares", "comments",
                 "watch_ms", "not_interested")
_FIELD = {name: i for i, name in enumerate(WINDOW_FIELDS)}
_BUMPS: dict[str, tuple[int, int]] = {
    "impression": (_FIELD["impressions"], 1), "play_start": (_FIELD["plays"], 1),
    "complete": (_FIELD["completes"], 1), "skip": (_FIELD["skips"], 1), "replay": (_FIELD["replays"], 1),
    contract.LIKE_ADDED.name: (_FIELD["likes"], 1), contract.LIKE_REMOVED.name: (_FIELD["likes"], -1),
    contract.COMMENT_CREATED.name: (_FIELD["comments"], 1), contract.COMMENT_DELETED.name: (_FIELD["comments"], -1),
    "share": (_FIELD["shares"], 1), contract.SHARE_CREATED.name: (_FIELD["shares"], 1),
    "not_interested": (_FIELD["not_interested"], 1),
}


def clip_features_key(clip_id: int) -> str:
    return f"feat:clip:{clip_id}"


@dataclass(frozen=True)
class LiveClipFeatures:
    """A clip's engagement over the last hour of event time, and its trending score."""

    clip_id: int
    impressions: int
    plays: int
    completes: int
    skips: int
    likes: int
    shares: int
    comments: int
    watch_ms: int
    play_rate: float        # plays per impression
    completion_rate: float  # completes per play
    skip_rate: float        # skips per play
    like_rate: float        # likes per play
    share_rate: float       # shares per play
    avg_watch_ms: float     # watch time per play
    trending_score: float   # global, decayed to now


async def update(fresh: list[Activity], hits: list[TrendHit], late: set[int], now: float | None = None,
                 *, services: Services) -> None:
    """Fold a batch's new events into the clips' windows and trending scores."""
    now = time.time() if now is None else now
    clip_ids = sorted({a.clip_id for a in fresh if a.clip_id is not None} | {h.clip_id for h in hits})
    if not clip_ids:
        return
    stored = await services.cache.get_many([clip_features_key(c) for c in clip_ids])
    documents: dict[int, dict[str, Any]] = {
        c: (orjson.loads(raw) if raw is not None else {"w": {}, "t": {}, "late": 0})
        for c, raw in zip(clip_ids, stored, strict=True)}
    newest: dict[int, float] = defaultdict(float)
    for activity in fresh:
        if activity.clip_id is None:
            continue
        document = documents[activity.clip_id]
        if activity.id in late:
            document["late"] += 1
            continue
        window = document["w"].setdefault(str(window_of(activity.ts)), [0] * len(WINDOW_FIELDS))
        bump = _BUMPS.get(activity.type)
        if bump is not None:
            window[bump[0]] += bump[1]
        window[_FIELD["watch_ms"]] += activity.watch_ms
        newest[activity.clip_id] = max(newest[activity.clip_id], activity.ts)
    half_life = services.settings.trending_half_life_s
    by_clip: dict[int, list[TrendHit]] = defaultdict(list)
    for hit in hits:
        by_clip[hit.clip_id].append(hit)
    scores: dict[int, dict[str, float]] = {}
    for clip_id, clip_hits in by_clip.items():
        state = documents[clip_id]["t"]
        changed = trending.add_hits(state, clip_hits, half_life, now)
        scores[clip_id] = {entry: state[entry] for entry in changed}
    for clip_id, document in documents.items():
        horizon = max(now, newest.get(clip_id, 0.0)) - LIVE_SPAN_S - WINDOW_S
        document["w"] = {start: counts for start, counts in document["w"].items() if int(start) >= horizon}
    await services.cache.set_many({clip_features_key(c): orjson.dumps(d) for c, d in documents.items()},
                                  ttl=FEATURE_TTL_S)
    await trending.publish_clip_scores(scores, services=services)
    await trending.add_hashtag_hits(hits, half_life, now, services=services)


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole > 0 else 0.0


async def get_clip_features(*, services: Services, clip_ids: list[int],
                            now: float | None = None) -> dict[int, LiveClipFeatures]:
    """Live features of each clip (zeros for clips with no recent engagement)."""
    now = time.time() if now is None else now
    wanted = list(dict.fromkeys(clip_ids))
    stored = await services.cache.get_many([clip_features_key(c) for c in wanted])
    half_life = services.settings.trending_half_life_s
    out: dict[int, LiveClipFeatures] = {}
    for clip_id, raw in zip(wanted, stored, strict=True):
        document = orjson.loads(raw) if raw is not None else {"w": {}, "t": {}}
        sums = [0] * len(WINDOW_FIELDS)
        for start, counts in document["w"].items():
            if now - LIVE_SPAN_S <= int(start) + WINDOW_S and int(start) <= now:
                sums = [a + b for a, b in zip(sums, counts, strict=True)]
        total = dict(zip(WINDOW_FIELDS, sums, strict=True))
        score = sum(trending.decayed(value, int(entry.rsplit("|", 1)[1]), now, half_life)
                    for entry, value in document["t"].items() if entry.startswith(f"{trending.GLOBAL}|"))
        plays = total["plays"]
        out[clip_id] = LiveClipFeatures(
            clip_id=clip_id, impressions=total["impressions"], plays=plays, completes=total["completes"],
            skips=total["skips"], likes=total["likes"], shares=total["shares"], comments=total["comments"],
            watch_ms=total["watch_ms"], play_rate=_ratio(plays, total["impressions"]),
            completion_rate=min(1.0, _ratio(total["completes"], plays)), skip_rate=_ratio(total["skips"], plays),
            like_rate=_ratio(total["likes"], plays), share_rate=_ratio(total["shares"], plays),
            avg_watch_ms=_ratio(total["watch_ms"], plays), trending_score=score)
    return out


async def clear(clip_ids: list[int], *, services: Services) -> None:
    await services.cache.delete(*(clip_features_key(c) for c in clip_ids))
