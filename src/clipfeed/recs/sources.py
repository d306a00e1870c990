"""Candidate sources: plug-ins, each with a quota (``feed_source_quotas``) and its own metrics
(candidates returned, time taken). A source returns ``(clip_id, score)`` pairs, best first;
scores are only compared within one source. Register a new source with ``register``.

Depth: seen clips are filtered after retrieval, so a source that always answered with its top
N would run dry for a viewer who has seen them. Each viewer keeps an offset per source that
moves past what was returned on every build and wraps to 0 when the source is exhausted
(``offsets`` below): long sessions walk deeper into pools, indexes and the catalogue.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from prometheus_client import Counter, Histogram

from clipfeed.recs.cards import FRESH_POOL, RECENT_POOL, creator_key, tag_key
from clipfeed.recs.features import Context
from clipfeed.recs.profile import ViewerState
from clipfeed.recs.recent_content import recent_content
from clipfeed.recs.retrieval import Snapshot, neighbours_of
from clipfeed.recs.signals import SIGNALS

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

SOURCE_SECONDS = Histogram("clipfeed_feed_source_seconds", "Time a candidate source took", ["source"],
                           buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
SOURCE_CANDIDATES = Counter("clipfeed_feed_source_candidates_total", "Candidates returned by source", ["source"])
SOURCE_ERRORS = Counter("clipfeed_feed_source_errors_total", "Candidate sources that failed", ["source"])


@dataclass
class SourceRequest:
    services: Services
    viewer: str
    user_id: int | None
    state: ViewerState
    context: Context
    following: list[int] = field(default_factory=list)
    interests: list[str] = field(default_factory=list)
    snapshot: Snapshot | None = None
    offsets: dict[str, int] = field(default_factory=dict)
    hashtags: list[str] = field(default_factory=list)  # followed, latest first

    def offset(self, name: str) -> int:
        return self.offsets.get(name, 0)


FRESH_WINDOW = 300
Fetch = Callable[[SourceRequest, int], Awaitable[list[tuple[int, float]]]]
SOURCES: dict[str, Fetch] = {}


def register(name: str) -> Callable[[Fetch], Fetch]:
    def wrap(fetch: Fetch) -> Fetch:
        SOURCES[name] = fetch
        return fetch
    return wrap


def parse_quotas(spec: str) -> dict[str, int]:
    out = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        if name.strip() not in SOURCES:
            raise ValueError(f"unknown candidate source {name.strip()!r}; known: {', '.join(SOURCES)}")
        out[name.strip()] = int(value)
    return out


async def gather_candidates(request: SourceRequest, quotas: dict[str, int]) -> dict[str, list[tuple[int, float]]]:
    """Every source with a positive quota, concurrently; a failing source yields nothing (and
    is counted) rather than failing the feed."""

    async def run(name: str, quota: int) -> list[tuple[int, float]]:
        started = time.perf_counter()
        try:
            found = (await SOURCES[name](request, quota))[:quota]
        except Exception:
            SOURCE_ERRORS.labels(name).inc()
            found = []
        SOURCE_SECONDS.labels(name).observe(time.perf_counter() - started)
        SOURCE_CANDIDATES.labels(name).inc(len(found))
        return found

    names = [name for name, quota in quotas.items() if quota > 0 and name in SOURCES]
    results = await asyncio.gather(*(run(name, quotas[name]) for name in names))
    return dict(zip(names, results, strict=True))


_SHARED: dict[tuple[object, ...], tuple[float, list[tuple[int, float]]]] = {}
SHARED_TTL_S = 2.0


async def shared(key: tuple[object, ...],
                 fetch: Callable[[], Awaitable[list[tuple[int, float]]]]) -> list[tuple[int, float]]:
    """Lists that are the same for every viewer of a region (trending, popular), kept
    ``SHARED_TTL_S`` in this process: no need to read them from the cache on every build."""
    found = _SHARED.get(key)
    if found is not None and found[0] > time.monotonic():
        return found[1]
    value = await fetch()
    if len(_SHARED) > 10_000:
        _SHARED.clear()
    _SHARED[key] = (time.monotonic() + SHARED_TTL_S, value)
    return value


def _ranked(members: list[tuple[str, float]]) -> list[tuple[int, float]]:
    return [(int(member), score) for member, score in members]


@register("following")
async def following(request: SourceRequest, limit: int) -> list[tuple[int, float]]:
    """Followed creators' newest clips (the feed's per-creator lists, newest first)."""
    cache = request.services.cache
    creators = request.following[:100]
    depth = request.offset("following")
    lists = await asyncio.gather(*(cache.ztop(creator_key(c), 5, offset=depth // 5) for c in creators))
    merged = sorted((item for found in lists for item in _ranked(found)), key=lambda kv: -kv[1])
    return merged[:limit]


@register("trending")
async def trending(request: SourceRequest, limit: int) -> list[tuple[int, float]]:
    region, services = request.context.region, request.services
    depth = min(request.offset("trending"), 500)

    async def fetch() -> list[tuple[int, float]]:
        local, world = await asyncio.gather(
            SIGNALS.trending_clip_ids(region, depth + limit, services=services),
            SIGNALS.trending_clip_ids("global", depth + limit, services=services) if region != "global"
            else asyncio.sleep(0, result=[]))
        out: dict[int, float] = {}
        for found in (local[depth:], world[depth:]):
            for rank, clip_id in enumerate(found):
                out[clip_id] = max(out.get(clip_id, 0.0), 1.0 / (1 + rank))
        return sorted(out.items(), key=lambda kv: -kv[1])

    return await shared((id(services), "trending", region, depth, limit), fetch)


@register("collaborative")
async def collaborative(request: SourceRequest, limit: int) -> list[tuple[int, float]]:
    snap = request.snapshot
    if snap is None:
        return []
    vector = snap.viewer_vector(request.viewer, request.state.recent)
    depth = min(request.offset("collaborative"), 1000)
    return [] if vector is None else snap.search_collab(vector, depth + limit)[depth:]


@register("co_engagement")
async def co_engagement(request: SourceRequest, limit: int) -> list[tuple[int, float]]:
    """Clips engaged with by the same people as the viewer's latest positive clips."""
    recent = request.state.recent[:10]
    found = await neighbours_of(request.services.cache, recent)
    scores: dict[int, float] = {}
    for age, clip_id in enumerate(recent):
        for rank, other in enumerate(found.get(clip_id, [])):
            scores[other] = scores.get(other, 0.0) + 0.85 ** age / (1 + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])[:limit]


@register("content")
async def content(request: SourceRequest, limit: int) -> list[tuple[int, float]]:
    """Clips whose content is close to what the viewer engaged with lately: the snapshot's
    index (clips up to the last retrain) and this process's index of the newest clips
    (``clipfeed.recs.recent_content``: those published since), merged by similarity."""
    taste = request.state.taste
    if not np.any(taste):
        return []
    depth = min(request.offset("content"), 1000)
    newest = await recent_content(request.services.cache)
    found = dict(newest.search(taste, depth + limit))
    if request.snapshot is not None:
        for clip_id, score in request.snapshot.search_content(taste, depth + limit):
            found[clip_id] = max(score, found.get(clip_id, score))
    return sorted(found.items(), key=lambda kv: -kv[1])[depth:depth + limit]


@register("fresh")
async def fresh(request: SourceRequest, limit: int) -> list[tuple[int, float]]:
    """New clips still owed their first impressions: a random ``limit`` of the newest
    ``FRESH_WINDOW``, so that viewers spread over the whole pool (exploration picks among them)."""
    cache, depth = request.services.cache, request.offset("fresh")

    async def fetch() -> list[tuple[int, float]]:
        return _ranked(await cache.ztop(FRESH_POOL, FRESH_WINDOW, offset=depth))

    pool = await shared((id(request.services), "fresh", depth), fetch)
    if len(pool) <= limit:
        return pool
    picked = sorted(random.sample(range(len(pool)), limit))
    return [pool[i] for i in picked]


@register("popular")
async def popular(request: SourceRequest, limit: int) -> list[tuple[int, float]]:
    """Cold start: long-run favourites in the viewer's region and language."""
    cache = request.services.cache
    keys = [f"recs:popular:{request.context.region}", "recs:popular:global"]
    if request.context.language:
        keys.append(f"recs:popular:lang:{request.context.language}")
    depth = request.offset("popular")

    async def fetch() -> list[tuple[int, float]]:
        out: dict[int, float] = {}
        for found in await asyncio.gather(*(cache.ztop(key, limit, offset=depth) for key in keys)):
            for rank, (member, _) in enumerate(found):
                out[int(member)] = max(out.get(int(member), 0.0), 1.0 / (1 + rank))
        return sorted(out.items(), key=lambda kv: -kv[1])[:limit]

    return await shared((id(request.services), "popular", *keys, depth, limit), fetch)


@register("interests")
async def interests(request: SourceRequest, limit: int) -> list[tuple[int, float]]:
    """Onboarding interests and the viewer's strongest hashtags: their newest clips."""
    liked = sorted(request.state.tags.items(), key=lambda kv: -kv[1])
    tags = list(dict.fromkeys([*request.interests, *(t for t, w in liked[:5] if w > 0)]))[:8]
    if not tags:
        return []
    per_tag = max(5, limit // len(tags))
    depth = request.offset("interests") // len(tags)
    lists = await asyncio.gather(*(request.services.cache.ztop(tag_key(t), per_tag, offset=depth) for t in tags))
    merged = sorted((item for found in lists for item in _ranked(found)), key=lambda kv: -kv[1])
    return merged[:limit]


@register("hashtags")
async def hashtags(request: SourceRequest, limit: int) -> list[tuple[int, float]]:
    """Newest clips of the hashtags the viewer follows (the feed's per-hashtag lists)."""
    tags = request.hashtags[:20]
    if not tags:
        return []
    per_tag = max(5, limit // len(tags))
    depth = request.offset("hashtags") // len(tags)
    lists = await asyncio.gather(*(request.services.cache.ztop(tag_key(t), per_tag, offset=depth) for t in tags))
    best: dict[int, float] = {}
    for found in lists:
        for clip_id, score in _ranked(found):
            best[clip_id] = max(score, best.get(clip_id, score))
    return sorted(best.items(), key=lambda kv: -kv[1])[:limit]


@register("recent")
async def recent(request: SourceRequest, limit: int) -> list[tuple[int, float]]:
    """The catalogue, newest first: what keeps a long session from running dry."""
    cache, depth = request.services.cache, request.offset("recent")

    async def fetch() -> list[tuple[int, float]]:
        return _ranked(await cache.ztop(RECENT_POOL, limit, offset=depth))

    return await shared((id(request.services), "recent", depth, limit), fetch)


# Sources ranked by closeness to the viewer's current vectors, which move with every signal: the
# next build should read past what the viewer can no longer be served, not past what was merely
# returned, or a few builds in a session walk the whole index and its answers become random.
BY_RELEVANCE = frozenset({"content", "collaborative"})


def next_offsets(before: dict[str, int], found: dict[str, list[tuple[int, float]]],
                 quotas: dict[str, int], kept: set[int] | frozenset[int] = frozenset()) -> dict[str, int]:
    """Move each source past what it returned (a source ranked by relevance: past what of it
    is not in ``kept``, the candidates that passed the filters: seen, hidden or already
    buffered); back to the top when it returned less than asked."""
    def moved(name: str, items: list[tuple[int, float]]) -> int:
        if len(items) < quotas.get(name, 0):
            return 0
        step = sum(c not in kept for c, _ in items) if name in BY_RELEVANCE else len(items)
        return before.get(name, 0) + step

    return {name: moved(name, items) for name, items in found.items()}
