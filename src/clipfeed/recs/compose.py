"""Building a ranked buffer for one viewer: sources → filters → features → ranker → blend of
personal, trending and discovery slots (exploration) → diversity → page rules.

Stage latencies go to ``clipfeed_feed_stage_seconds{stage}`` (the latency budget).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from prometheus_client import Histogram

from clipfeed.recs import explore
from clipfeed.recs.cards import ClipCard, get_cards_recent
from clipfeed.recs.diversity import apply_rules, mmr
from clipfeed.recs.features import Context, column, feature_matrix
from clipfeed.recs.profile import ViewerState, clip_stats, load_viewer
from clipfeed.recs.ranker import parse_weights, viewer_fit
from clipfeed.recs.registry import LoadedModels, loaded_models
from clipfeed.recs.retrieval import loaded_retrieval
from clipfeed.recs.seen import SeenFilter
from clipfeed.recs.sources import SourceRequest, gather_candidates, next_offsets, parse_quotas
from clipfeed.recs.viewers import FeedViewer, Links, viewer_links

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services
    from clipfeed.settings import Settings

STAGE_SECONDS = Histogram("clipfeed_feed_stage_seconds", "Time per feed stage", ["stage"],
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.25, 0.5, 1))
SHADOW_OVERLAP = Histogram("clipfeed_feed_shadow_overlap", "Share of the top 10 the shadow model agrees on",
                           buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0))
SOURCE_ORDER = ["following", "hashtags", "collaborative", "co_engagement", "content", "interests", "trending",
                "popular", "fresh", "recent"]


INTEREST_PRIOR = 3.0
DISCOVERY_SOURCES = ("fresh", "content", "interests", "recent")


def offsets_key(viewer: str) -> str:
    return f"recs:u:{viewer}:offsets"


@contextmanager
def stage(name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE_SECONDS.labels(name).observe(time.perf_counter() - started)


@dataclass(frozen=True)
class FeedConfig:
    quotas: dict[str, int]
    blend: dict[str, float]
    weights: dict[str, float]
    buffer_size: int
    creator_gap: int
    hashtag_cap: int
    page_size: int
    mmr_lambda: float
    explore_rate: float
    seen: SeenFilter

    @classmethod
    def of(cls, settings: Settings) -> FeedConfig:
        return _config(settings.feed_source_quotas, settings.feed_blend, settings.feed_objective_weights,
                       settings.feed_buffer_size, settings.feed_creator_gap, settings.feed_hashtag_cap,
                       settings.feed_page_size, settings.feed_mmr_lambda, settings.feed_explore_rate,
                       settings.feed_seen_capacity, settings.feed_seen_ttl_s)


@lru_cache(maxsize=16)
def _config(quotas: str, blend: str, weights: str, buffer_size: int, creator_gap: int, hashtag_cap: int,
            page_size: int, mmr_lambda: float, explore_rate: float, seen_capacity: int, seen_ttl: float) -> FeedConfig:
    shares = parse_weights(blend)
    unknown = set(shares) - {"personal", "trending", "discovery"}
    if unknown:
        raise ValueError(f"unknown blend parts {sorted(unknown)}: use personal, trending, discovery")
    return FeedConfig(parse_quotas(quotas), shares, parse_weights(weights), buffer_size, creator_gap,
                      hashtag_cap, page_size, mmr_lambda, explore_rate,
                      SeenFilter(capacity=seen_capacity, ttl=seen_ttl))


@dataclass
class Ranked:
    clip_id: int
    creator_id: int
    source: str
    reason: str
    score: float
    features: np.ndarray
    explore: bool = False


@dataclass
class Built:
    items: list[Ranked] = field(default_factory=list)
    model: str = "heuristic"
    candidates: int = 0
    turned_down: set[int] = field(default_factory=set)  # IDs of the items like what the viewer rejected


async def build(viewer: FeedViewer, *, services: Services, exclude: frozenset[int] | set[int] = frozenset(),
                rng: np.random.Generator | None = None, settings: Settings | None = None,
                links: Links | None = None, from_top: bool = False, deep: bool = False) -> Built:
    """A ranked list of up to ``feed_buffer_size`` unseen, allowed clips for ``viewer``
    (``settings``: the viewer's experiment arm's, when it differs). ``from_top``: read every
    source from its start rather than from the viewer's offsets; ``deep``: from the start and
    four times as far, leaving the offsets alone (a last try before a page would come out short)."""
    settings = settings or services.settings
    config = FeedConfig.of(settings)
    rng = rng or np.random.default_rng()
    with stage("profile"):
        state, links_found, snapshot, models, offsets = await asyncio.gather(
            load_viewer(services.cache, viewer.key),
            asyncio.sleep(0, result=links) if links is not None else viewer_links(viewer, services=services),
            loaded_retrieval(services.blobs, settings.feed_model_poll_s).refresh(services.blobs),
            _models(services=services),
            asyncio.sleep(0, result={}) if from_top or deep else services.cache.hgetall(offsets_key(viewer.key)))
    _add_interests(state, links_found.interests)
    context = _context(viewer)
    request = SourceRequest(services, viewer.key, viewer.user_id, state, context, links_found.following,
                            links_found.interests, snapshot, {k: int(v) for k, v in offsets.items()},
                            hashtags=links_found.tags)
    with stage("sources"):
        found = await gather_candidates(request, {k: 4 * v for k, v in config.quotas.items()} if deep
                                        else config.quotas)
    origin: dict[int, tuple[str, float]] = {}
    for name in SOURCE_ORDER:
        for rank, (clip_id, _) in enumerate(found.get(name, [])):
            score = 1.0 / (1 + rank)
            if clip_id not in origin or score > origin[clip_id][1]:
                origin[clip_id] = (name, score)
    with stage("filters"):
        cards = await _allowed(viewer, state, config, origin, exclude, links_found, services=services)
    if not deep:
        moved = next_offsets(request.offsets, found, config.quotas, kept={c.id for c in cards})
        await services.cache.hset(offsets_key(viewer.key), {k: str(v).encode() for k, v in moved.items()},
                                  ttl=settings.feed_seen_ttl_s)
    return await _rank(state, cards, origin, context, config, models, rng, services=services)


async def rerank(viewer: FeedViewer, items: list[Ranked], *, services: Services, links: Links,
                 settings: Settings | None = None, rng: np.random.Generator | None = None) -> Built:
    """The buffer's clips ranked again from the viewer's live state: what a like, skip, share
    or follow changes on the next page, without a build's sources and candidate filtering.
    Clips the viewer has since hidden or turned down (see ``turned_down``), whose card is gone
    or whose creator is now blocked or hidden drop out of the buffer; a page left short by that tops up
    with a full build, and a buffer left low is refilled in the background."""
    settings = settings or services.settings
    config = FeedConfig.of(settings)
    with stage("profile"):
        state, models = await asyncio.gather(load_viewer(services.cache, viewer.key), _models(services=services))
    _add_interests(state, links.interests)
    buffered = {r.clip_id: r for r in items}
    ids = [c for c in buffered if c not in state.hidden and c not in state.negative]
    with stage("filters"):
        # Kept a few seconds per process, as for builds: every page is checked against the cache.
        found = await get_cards_recent(services.cache, ids)
    cards = [card for clip_id in ids if (card := found.get(clip_id)) is not None
             and not links.leaves_out(clip_id, card.creator_id) and card.creator_id != viewer.user_id]
    retrieval = column("retrieval_score")
    origin = {c.id: (buffered[c.id].source, float(buffered[c.id].features[retrieval])) for c in cards}
    built = await _rank(state, cards, origin, _context(viewer), config, models, rng or np.random.default_rng(),
                        services=services)
    kept = [r for r in built.items if r.clip_id not in built.turned_down]
    return Built(kept, built.model, len(cards))


def turned_down(features: np.ndarray) -> np.ndarray | bool:
    """Rows (or one row) like what the viewer just rejected: a hashtag they keep skipping, or
    content close to their recent skips."""
    return (features[..., column("tag_live")] < -0.5) | (features[..., column("dislike_dot")] > 0.8)


def _add_interests(state: ViewerState, interests: list[str]) -> None:
    for tag in interests:
        # Onboarding interests are a prior on hashtag affinity, as if liked once; real
        # feedback soon outweighs them.
        state.tags[tag] = state.tags.get(tag, 0.0) + INTEREST_PRIOR


def _context(viewer: FeedViewer) -> Context:
    return Context(at=time.time(), device=viewer.device, network=viewer.network, region=viewer.region,
                   language=viewer.language)


async def _rank(state: ViewerState, cards: list[ClipCard], origin: dict[int, tuple[str, float]],
                context: Context, config: FeedConfig, models: LoadedModels,
                rng: np.random.Generator, *, services: Services) -> Built:
    """Features, scores, blend and rules for allowed candidates (``origin``: each one's source
    and retrieval score)."""
    if not cards:
        return Built(model=models.current.version)
    with stage("features"):
        stats = await clip_stats(services.cache, [c.id for c in cards])
        features = feature_matrix(state, cards, stats, context, [origin[c.id][0] for c in cards],
                                  [origin[c.id][1] for c in cards])
    with stage("ranker"):
        scores = models.current.score(features, config.weights)
        if models.shadow is not None:
            shadow = models.shadow.score(features, config.weights)
            top, top_shadow = set(np.argsort(-scores)[:10]), set(np.argsort(-shadow)[:10])
            SHADOW_OVERLAP.observe(len(top & top_shadow) / max(1, len(top)))
    with stage("blend"):
        down = np.asarray(turned_down(features), dtype=bool)
        items = _blend(cards, scores, features, down, stats, origin, state, config, rng)
    return Built(items, models.current.version, len(cards), {cards[i].id for i in np.flatnonzero(down)})


async def _models(*, services: Services) -> LoadedModels:
    models = loaded_models(services.blobs, services.settings.feed_model_poll_s)
    await models.refresh(services.blobs)
    return models


async def _allowed(viewer: FeedViewer, state: ViewerState, config: FeedConfig, origin: dict[int, tuple[str, float]],
                   exclude: frozenset[int] | set[int], links: Links,
                   *, services: Services) -> list[ClipCard]:
    """Drop what this viewer must not get: hidden (not interested), recently skipped, already
    buffered, gone (no card: deleted, rejected, private, held), dismissed clips and blocked or
    hidden creators (``Links.leaves_out``), their own clips, and anything the seen filter has."""
    ids = [c for c in origin if c not in exclude and c not in state.hidden and c not in state.negative]
    found = await get_cards_recent(services.cache, ids)
    cards = [card for clip_id in ids if (card := found.get(clip_id)) is not None
             and not links.leaves_out(clip_id, card.creator_id) and card.creator_id != viewer.user_id]
    seen = await config.seen.seen(services.cache, viewer.key, [c.id for c in cards])
    return [card for card, was_seen in zip(cards, seen, strict=True) if not was_seen]


def _blend(cards: list[ClipCard], scores: np.ndarray, features: np.ndarray, down: np.ndarray,
           stats: dict[int, dict[str, float]],
           origin: dict[int, tuple[str, float]], state: ViewerState, config: FeedConfig,
           rng: np.random.Generator) -> list[Ranked]:
    size = min(config.buffer_size, len(cards))
    rate = explore.exploration_rate(state, config.explore_rate) if config.blend.get("discovery", 0) > 0 else 0.0
    rest = max(1e-9, config.blend.get("personal", 0.0) + config.blend.get("trending", 0.0))
    shares = {"personal": (1 - rate) * config.blend.get("personal", 0.0) / rest,
              "trending": (1 - rate) * config.blend.get("trending", 0.0) / rest, "discovery": rate}
    # Personal: by score, then MMR over the best few for content diversity.
    by_score = np.argsort(-scores)
    head = by_score[: max(size * 2, 30)]
    sketches = np.stack([cards[i].sketch if cards[i].sketch is not None else np.zeros(32, np.float32)
                         for i in head]) if len(head) else np.zeros((0, 32), np.float32)
    picked = [int(head[i]) for i in mmr(scores[head], sketches, size, config.mmr_lambda)]
    chosen = set(picked)
    ranked = by_score.tolist()
    personal = picked + [i for i in ranked if i not in chosen]
    trending = [i for i in ranked if origin[cards[i].id][0] in ("trending", "popular")]
    # Exploration never re-serves what the viewer just turned down (live dislike of its content
    # or hashtags), whatever its draw.
    discovery_pool = [i for i in range(len(cards)) if origin[cards[i].id][0] in DISCOVERY_SOURCES
                      and features[i, column("tag_live")] > -0.9 and features[i, column("dislike_dot")] < 0.8]
    engaged = np.array([stats.get(cards[i].id, {}).get("engaged", 0.0) for i in discovery_pool])
    shown = np.array([stats.get(cards[i].id, {}).get("imp", 0.0) for i in discovery_pool])
    # The fit brings suitable clips forward but never holds a clip back below its draw:
    # exploring is also how a viewer's turned-away topics get another chance when tastes move.
    fit = np.maximum(viewer_fit(features[discovery_pool]), 0.0) if discovery_pool else None
    drawn = ([discovery_pool[int(j)] for j in explore.thompson_order(engaged, shown, rng, fit)]
             if discovery_pool else [])
    # Every other discovery slot goes to the fresh pool, so new clips get their first
    # impressions even when many older clips are also untried.
    new = [i for i in drawn if origin[cards[i].id][0] == "fresh"]
    older = [i for i in drawn if origin[cards[i].id][0] != "fresh"]
    discovery = [i for pair in itertools.zip_longest(new, older) for i in pair if i is not None]
    queues = {"personal": personal, "trending": trending, "discovery": discovery}
    used: set[int] = set()
    taken = dict.fromkeys(queues, 0.0)
    order: list[tuple[int, str]] = []
    while len(order) < size:
        # The slot goes to the part furthest behind its share (a deterministic interleave).
        wanted = sorted(queues, key=lambda q: taken[q] - shares[q] * (len(order) + 1))
        for name in wanted:
            queue = queues[name]
            while queue and queue[0] in used:
                queue.pop(0)
            if queue:
                index = queue.pop(0)
                used.add(index)
                taken[name] += 1
                order.append((index, name))
                break
        else:
            break
    reasons = dict(order)
    disliked = {cards[i].id for i, _ in order if down[i]}
    arranged = apply_rules([cards[i] for i, _ in order], creator_gap=config.creator_gap,
                           hashtag_cap=config.hashtag_cap, window=config.page_size, avoid=disliked)
    position = {card.id: i for i, card in enumerate(cards)}
    out = []
    for card in arranged:
        i = position[card.id]
        out.append(Ranked(card.id, card.creator_id, origin[card.id][0], reasons[i], float(scores[i]),
                          features[i], explore=reasons[i] == "discovery"))
    return out
