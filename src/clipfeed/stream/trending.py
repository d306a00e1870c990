"""Trending clips and hashtags: time-decayed engagement velocity, globally and per region.

A clip's score at time ``now`` is ``sum(w * 2 ** (-(now - t) / h))`` over its engagement events
(event time ``t``, weight ``w`` from ``counters.TREND_WEIGHTS``, half-life ``h`` =
``CLIPFEED_TRENDING_HALF_LIFE_S``). Each viewer adds each kind of weight at most once per clip
and UTC day (``counters._take_trend``), so one account cannot push a clip up by repetition.

Stored with *forward decay* so that updates are plain additions, the same whatever the arrival
order: time is cut into eras of a day; an event of era ``E`` adds ``w * 2 ** ((t - L_E) / h)``
(``L_E`` = the era's start) to sorted sets ``trend:clips:{scope}:{E}`` and
``trend:tags:{scope}:{E}`` (scope ``all`` or a region). Readers decay each era's score to now
and add the eras up. A clip's scores have one writer (the owner of its partition), which keeps
them in the clip's feature document and writes them with ``zadd``; hashtags gather many clips,
so they are summed with ``zincr``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from clipfeed.clips import service as clips_service
from clipfeed.stream.clip_meta import ClipMeta, clip_meta
from clipfeed.stream.counters import TrendHit

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

ERA_S = 86400
GLOBAL = "all"
TREND_TTL_S = 3 * ERA_S
REGIONS_KEY = "trend:regions"


def era_of(ts: float) -> int:
    return int(ts // ERA_S)


def forward(ts: float, era: int, half_life: float) -> float:
    return float(2.0 ** ((ts - era * ERA_S) / half_life))


def decayed(score: float, era: int, now: float, half_life: float) -> float:
    return score * 2.0 ** (-(now - era * ERA_S) / half_life)


def clips_key(scope: str, era: int) -> str:
    return f"trend:clips:{scope}:{era}"


def tags_key(scope: str, era: int) -> str:
    return f"trend:tags:{scope}:{era}"


def scopes(region: str) -> tuple[str, ...]:
    return (GLOBAL, region) if region and region != GLOBAL else (GLOBAL,)


def add_hits(trend_state: dict[str, float], hits: Iterable[TrendHit], half_life: float, now: float) -> set[str]:
    """Add a clip's hits to its per-(scope, era) scores; returns the entries changed."""
    oldest = era_of(now) - 1
    changed: set[str] = set()
    for hit in hits:
        era = era_of(hit.ts)
        if era < oldest:
            continue  # two eras back: worth under 2**-12 of a fresh event at h = 2 h
        for scope in scopes(hit.region):
            entry = f"{scope}|{era}"
            trend_state[entry] = trend_state.get(entry, 0.0) + hit.weight * forward(hit.ts, era, half_life)
            changed.add(entry)
    for entry in [e for e in trend_state if int(e.rsplit("|", 1)[1]) < oldest]:
        del trend_state[entry]
    return changed


async def publish_clip_scores(scores: dict[int, dict[str, float]], *, services: Services) -> None:
    """``scores``: clip -> {"scope|era": absolute forward score}, as kept by the clip's writer."""
    by_key: dict[str, dict[str, float]] = defaultdict(dict)
    regions: set[str] = set()
    for clip_id, entries in scores.items():
        for entry, score in entries.items():
            scope, era = entry.rsplit("|", 1)
            by_key[clips_key(scope, int(era))][str(clip_id)] = score
            regions.add(scope)
    for key, members in by_key.items():
        await services.cache.zadd(key, members, ttl=TREND_TTL_S)
    regions.discard(GLOBAL)
    if regions:
        await services.cache.sadd(REGIONS_KEY, *regions)


async def add_hashtag_hits(hits: list[TrendHit], half_life: float, now: float, *, services: Services) -> None:
    if not hits:
        return
    metas = await clip_meta({h.clip_id for h in hits}, services=services)
    live = await _live_now(metas, services=services)
    oldest = era_of(now) - 1
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for hit in hits:
        meta = metas.get(hit.clip_id)
        era = era_of(hit.ts)
        # Only live (ready, public) clips feed a public list: a private clip's likes must not
        # make its tags trend. A tag's score sums many clips and cannot be taken apart later,
        # so the check is here, where the engagement is counted, not where the list is read.
        if meta is None or hit.clip_id not in live or era < oldest:
            continue
        amount = hit.weight * forward(hit.ts, era, half_life)
        for scope in scopes(hit.region):
            for tag in meta.hashtags:
                sums[(tags_key(scope, era), tag)] += amount
    for (key, tag), amount in sums.items():
        await services.cache.zincr(key, tag, amount, ttl=TREND_TTL_S)


async def _live_now(metas: dict[int, ClipMeta], *, services: Services) -> set[int]:
    """The clips among ``metas`` that are live. The cached metadata comes from the ``clips``
    topic, which this consumer may read behind the engagement topics (a clip liked the moment
    it became public still looks like a draft there), so the few that do not look live are
    checked against the clips table before their engagement is left out."""
    live = {c for c, m in metas.items() if m.live}
    doubtful = [c for c in metas if c not in live]
    if doubtful:
        rows = await clips_service.get_many(db=services.db, clip_ids=doubtful)
        live |= {c for c, row in rows.items() if row.status == "ready" and row.visibility == "public"}
    return live


async def _top(key_of: Callable[[str, int], str], scope: str, count: int, now: float,
               half_life: float, *, services: Services) -> list[tuple[str, float]]:
    totals: dict[str, float] = defaultdict(float)
    current = era_of(now)
    for era in (current - 1, current, current + 1):  # +1: clients up to the skew bound ahead
        for member, score in await services.cache.ztop(key_of(scope, era), count):
            totals[member] += decayed(score, era, now, half_life)
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


async def top_clips(*, services: Services, region: str | None = None, limit: int = 20,
                    now: float | None = None) -> list[tuple[int, float]]:
    """Trending clips that are live (ready and public), best first, with their decayed score.
    ``region=None``: everywhere. Fresh within the processing lag (about a second)."""
    now = time.time() if now is None else now
    half_life = services.settings.trending_half_life_s
    ranked = await _top(clips_key, region or GLOBAL, 3 * limit + 10, now, half_life, services=services)
    metas = await clip_meta([int(member) for member, _ in ranked], services=services)
    live = [(int(member), score) for member, score in ranked
            if int(member) in metas and metas[int(member)].live]
    return live[:limit]


async def top_hashtags(*, services: Services, region: str | None = None, limit: int = 20,
                       now: float | None = None) -> list[tuple[str, float]]:
    """Trending hashtags, best first, with their decayed score."""
    now = time.time() if now is None else now
    ranked = await _top(tags_key, region or GLOBAL, 2 * limit + 10, now, services.settings.trending_half_life_s,
                        services=services)
    return ranked[:limit]


async def known_regions(*, services: Services) -> set[str]:
    return await services.cache.smembers(REGIONS_KEY)


async def trim(keep: int = 10_000, now: float | None = None, *, services: Services) -> int:
    """Bound the sorted sets of the live eras to their ``keep`` best members."""
    current = era_of(time.time() if now is None else now)
    dropped = 0
    for scope in {GLOBAL, *await known_regions(services=services)}:
        for era in (current - 1, current):
            for key in (clips_key(scope, era), tags_key(scope, era)):
                dropped += await services.cache.ztrim(key, keep)
    return dropped


async def clear(now: float | None = None, *, services: Services) -> None:
    """Drop every trending set of the live eras (for a rebuild by replay)."""
    now = time.time() if now is None else now
    current = era_of(now)
    keys = [key(scope, era) for scope in {GLOBAL, *await known_regions(services=services)}
            for era in range(current - 2, current + 2) for key in (clips_key, tags_key)]
    await services.cache.delete(*keys)
