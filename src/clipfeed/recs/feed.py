"""Serving feed pages: the For You tab from the viewer's buffer (or built on demand), the
Following and Hashtags tabs in time order. Every page leaves out blocked creators' clips and
those the viewer's mute filters hide; For You also leaves out the clips the viewer said they are
not interested in and the creators they hid (``clipfeed.recs.dismissals``).

For You, per request: read the buffer; if it is missing or stale, build one now (the
on-demand path); if it was ranked before the viewer's last strong signal, rank its clips again
from the live state (the re-ranked path: a like or a skip changes the next page at a fraction
of a build's cost). Take clips from its front and claim
them in the seen filter (an atomic test-and-set, so two devices of one viewer paging at once
never get the same clip); drop any whose card vanished (deleted, rejected, made private) or
whose creator is now blocked or hidden (or the clip dismissed); write the rest back. A buffer
running low is topped up in the background. The cursor carries the feed session and page
number; the seen filter, not the cursor, is what guarantees no repeats, so a lost cursor costs
nothing.

A process killed after claiming but before answering loses those clips for that viewer
(they count as seen): a few clips skipped, never a repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import orjson
import structlog
from prometheus_client import Counter, Histogram

from clipfeed.core.errors import BadRequest, Unavailable
from clipfeed.core.pagination import cursor_float, cursor_int, decode_cursor, encode_cursor
from clipfeed.recs import buffer as buffers
from clipfeed.recs import training
from clipfeed.recs.cards import ClipCard, card_key, creator_key, get_cards, tag_key
from clipfeed.recs.compose import FeedConfig, Ranked, build, rerank, stage
from clipfeed.recs.experiments import settings_for
from clipfeed.recs.features import FEATURE_NAMES
from clipfeed.recs.profile import dirty_key, known_key
from clipfeed.recs.render_keys import view_key
from clipfeed.recs.viewers import FeedViewer, Links, decode_links, links_key, viewer_links
from clipfeed.search.mutes import Mutes

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services
    from clipfeed.settings import Settings

PAGES = Counter("clipfeed_feed_pages_total", "Feed pages served", ["tab", "path"])
PAGE_SECONDS = Histogram("clipfeed_feed_page_seconds", "Time to compose a feed page", ["tab", "path"],
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2))
REFILLS = Counter("clipfeed_feed_refills_total", "Background buffer refills", ["reason"])
log = structlog.get_logger(__name__)
_REFILLING: set[asyncio.Task[bool]] = set()
_SESSION = re.compile(r"[0-9a-f]{1,32}")  # secrets.token_hex, as handed out in cursors
MAX_TOP_UPS = 2  # builds a page may add on the request when its buffer runs dry


@dataclass
class ServedPage:
    items: list[Ranked]
    cards: dict[int, ClipCard]
    next_cursor: str | None
    path: str
    model: str
    session: str
    views: dict[int, bytes] = field(default_factory=dict)  # cached renderings fetched with the cards


async def foryou_page(viewer: FeedViewer, *, services: Services, cursor: str | None, limit: int) -> ServedPage:
    started = time.perf_counter()
    settings = settings_for(services.settings, viewer.key)
    config = FeedConfig.of(settings)
    position = decode_cursor(cursor)
    session = position.get("s") or secrets.token_hex(6)
    if not isinstance(session, str) or not _SESSION.fullmatch(session):
        # It goes into training logs and the session's analytics: only what we hand out.
        raise BadRequest("the cursor is not one this API handed out")
    page_no = cursor_int(position, "n") if "n" in position else 0
    with stage("buffer_read"):
        raw, dirty, known, cached_links = await services.cache.get_many(
            [buffers.buffer_key(viewer.key), dirty_key(viewer.key), known_key(viewer.key), links_key(viewer.key)])
        if cached_links is not None or viewer.user_id is None:
            links = decode_links(cached_links) if cached_links is not None else Links()
        elif raw is None and known is None:
            # A new viewer follows nobody and has no interests yet (a follow marks them known,
            # interests build their buffer): only blocks need reading, one query instead of three.
            links = await viewer_links(viewer, blocks_only=True, services=services)
        else:  # read once, then cached for the next pages
            links = await viewer_links(viewer, services=services)
    current = None if raw is None else buffers.Buffer.decode(raw)
    read = None if current is None else current.version  # the stored version this request read
    moved_at = float(dirty) if dirty else 0.0
    path = "buffer"
    if current is None and known is None:
        # A viewer with no history and no buffer: nothing to personalise on yet. Their buffer
        # starts as a slice of the region's precomputed ranking (filtered for them page by
        # page); their first like or skip re-ranks it, and the stream worker rebuilds it for them.
        path = "cold_start"
        current = await cold_start_buffer(viewer, settings=settings, limit=limit, services=services)
    elif current is None or time.time() - current.built > settings.feed_buffer_stale_s:
        path = "on_demand"
        begun = time.time()
        # A new session (app opened, pull to refresh) reads every source from the top again;
        # the seen filter still keeps out what was served before.
        built = await build(viewer, settings=settings, links=links, from_top=cursor is None, services=services)
        current = buffers.Buffer(begun, built.model, built.items)
    elif current.ranked < moved_at:
        path = "reranked"
        begun = time.time()
        again = await rerank(viewer, current.items, settings=settings, links=links, services=services)
        current = buffers.Buffer(current.built, again.model, again.items, ranked=begun)
    served: list[Ranked] = []
    cards: dict[int, ClipCard] = {}
    views: dict[int, bytes] = {}
    # The previous seen period was already checked when the buffer was built in this period.
    recheck = config.seen.crossed_period(current.built)
    topped_up = 0
    reread = False
    while len(served) < limit:
        if not current.items and not reread:
            # Drained. A background refill may have stored a new buffer since this request read
            # it (its build took the candidates a build here would now look for): use that, if
            # it is new and ranked after the viewer's last signal.
            reread = True
            stored = await buffers.load(services.cache, viewer.key)
            taken = {r.clip_id for r in served}
            if (stored is not None and stored.version != read and stored.ranked >= moved_at
                    and any(r.clip_id not in taken for r in stored.items)):
                read = stored.version
                current = buffers.Buffer(stored.built, stored.model,
                                         [r for r in stored.items if r.clip_id not in taken], stored.ranked)
                recheck = config.seen.crossed_period(current.built)
                continue
        if not current.items and topped_up < MAX_TOP_UPS:
            # Still dry (or what was left had been claimed meanwhile by another device): build
            # more on the spot rather than answer short. The last try reads every source from
            # the top and deeper: each build moves the sources' offsets (background builds too),
            # so the window one build reads may hold only seen clips while unseen ones sit
            # outside it.
            topped_up += 1
            path = "on_demand"
            begun = time.time()
            built = await build(viewer, exclude={r.clip_id for r in served}, settings=settings, links=links,
                                deep=topped_up == MAX_TOP_UPS, services=services)
            current = buffers.Buffer(begun, built.model, built.items)
            recheck = False
        if not current.items:
            if topped_up < MAX_TOP_UPS:
                continue  # that build found nothing unseen in its window: the deep one may
            break
        wanted = current.items[: limit - len(served)]
        del current.items[: len(wanted)]
        with stage("seen_claim"):
            # Cards (is the clip still listed?) and rendered views in one round trip.
            ids = [r.clip_id for r in wanted]
            raw_values = await services.cache.get_many([card_key(c) for c in ids] + [view_key(c) for c in ids])
            found = {c: ClipCard.decode(c, v) for c, v in zip(ids, raw_values[: len(ids)], strict=True) if v}
            rendered = dict(zip(ids, raw_values[len(ids):], strict=True))
            allowed = [r for r in wanted if r.clip_id in found and not links.leaves_out(r.clip_id,
                                                                                     found[r.clip_id].creator_id)
                       and not muted(links.mutes, found[r.clip_id], rendered.get(r.clip_id))]
            fresh = await config.seen.claim(services.cache, viewer.key, [r.clip_id for r in allowed],
                                            check_previous=recheck)
        for ranked, is_new in zip(allowed, fresh, strict=True):
            if is_new:
                served.append(ranked)
                cards[ranked.clip_id] = found[ranked.clip_id]
        views.update({c: v for c, v in rendered.items() if v})
    with stage("buffer_write"):
        # Written back over the version read only; a refill stored since is merged with, not lost.
        # The impressions are logged in the same round trip.
        current.version = read
        await buffers.update(services.cache, viewer.key, current, ttl=settings.feed_buffer_stale_s * 2,
                             drop={r.clip_id for r in served},
                             also=training.served_writes(viewer=viewer.key, items=served, model=current.model,
                                                         session=session, region=viewer.region))
    if len(current.items) < settings.feed_refill_below:
        schedule_refill(viewer, reason="drained", services=services)
    PAGES.labels("foryou", path).inc()
    PAGE_SECONDS.labels("foryou", path).observe(time.perf_counter() - started)
    next_cursor = encode_cursor({"s": session, "n": page_no + 1}) if served else None
    return ServedPage(served, cards, next_cursor, path, current.model, session, views)


@dataclass
class _RegionalPage:
    built: float = 0.0
    model: str = "heuristic"
    items: list[Ranked] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_REGIONAL: dict[tuple[int, str], _RegionalPage] = {}
REGIONAL_TTL_S = 10.0


async def cold_start_buffer(viewer: FeedViewer, *, services: Services, settings: Settings,
                            limit: int) -> buffers.Buffer:
    """A slice of the region's generic ranking (built for a viewer with no history at most
    ``REGIONAL_TTL_S`` ago, in this process): a random ``limit`` of its best ``3 × limit``,
    order kept, then the rest, so new viewers do not all start on the same page. It becomes
    the viewer's buffer, dated as old as the regional ranking."""
    regional = _REGIONAL.setdefault((id(services), viewer.region), _RegionalPage())
    if time.monotonic() - regional.built > REGIONAL_TTL_S:
        async with regional.lock:
            if time.monotonic() - regional.built > REGIONAL_TTL_S:
                built = await build(FeedViewer(f"region:{viewer.region}", region=viewer.region), settings=settings,
                                    from_top=True, services=services)
                regional.items, regional.model, regional.built = built.items, built.model, time.monotonic()
    head = regional.items[: 3 * limit]
    picked = sorted(random.sample(range(len(head)), min(limit, len(head))))
    chosen = [head[i] for i in picked]
    rest = [r for i, r in enumerate(regional.items) if i >= len(head) or i not in picked]
    return buffers.Buffer(time.time(), regional.model, chosen + rest)


def schedule_refill(viewer: FeedViewer, *, services: Services, reason: str, replace: bool = False) -> None:
    """Top the buffer up in the background (one refill per viewer at a time, cluster-wide)."""
    task = asyncio.get_running_loop().create_task(refill(viewer, reason=reason, replace=replace, services=services))
    _REFILLING.add(task)
    task.add_done_callback(_REFILLING.discard)


async def refill(viewer: FeedViewer, *, services: Services, reason: str, replace: bool = False) -> bool:
    lock = f"recs:lock:{viewer.key}"
    try:
        if not await services.cache.add(lock, b"1", ttl=10):
            return False
    except Unavailable:  # no cache, no buffer to refill: pages come from the database meanwhile
        return False
    try:
        begun = time.time()  # the buffer is as fresh as the state it was built from
        current = await buffers.load(services.cache, viewer.key)
        keep = [] if replace or current is None else current.items
        # A rebuild that replaces the buffer follows a signal: the viewer's state moved, so every
        # source is read from the top again, as for a new session (the seen filter keeps out
        # what was served). A top-up of a drained buffer reads on from the offsets.
        built = await build(viewer, exclude={r.clip_id for r in keep}, settings=settings_for(services.settings,
                                                                                             viewer.key),
                            from_top=replace, services=services)
        # Kept clips were ranked when the old buffer was; a signal since then re-ranks them all.
        fresh = buffers.Buffer(current.built if keep and current else begun, built.model, keep + built.items,
                               ranked=current.ranked if keep and current else begun,
                               version=None if current is None else current.version)
        ttl = services.settings.feed_buffer_stale_s * 2
        if replace:  # read from the top: whatever a page wrote back meanwhile is in it or still owed
            await buffers.store(services.cache, viewer.key, fresh, ttl=ttl)
        else:  # a page may have written back since the load: merge rather than lose either
            await buffers.update(services.cache, viewer.key, fresh, ttl=ttl)
        REFILLS.labels(reason).inc()
        return True
    except Exception as exc:  # a failed background refill only means the next page builds on demand
        log.warning("recs.refill_failed", viewer=viewer.key, error=str(exc))
        return False
    finally:
        with contextlib.suppress(Unavailable):  # the lock expires by itself
            await services.cache.delete(lock)


def muted(mutes: Mutes, card: ClipCard, view: bytes | None) -> bool:
    """Whether the viewer's filters hide this clip: its caption as rendered (views are written
    when a clip is indexed, so nearly always there), else its hashtags alone."""
    if not mutes:
        return False
    if view is None:
        return mutes.hides_text("", card.hashtags)
    shown = orjson.loads(view)["view"]
    return mutes.hides_text(shown.get("caption") or "", shown.get("hashtags") or card.hashtags)


async def following_page(viewer: FeedViewer, *, services: Services, cursor: str | None,
                         limit: int) -> ServedPage:
    """Followed creators' clips, newest first; the cursor holds the last publication time."""
    links = await viewer_links(viewer, services=services)
    return await _chronological(links, [creator_key(c) for c in links.following[:500]], tab="following",
                                cursor=cursor, limit=limit, services=services)


async def hashtags_page(viewer: FeedViewer, *, services: Services, cursor: str | None, limit: int) -> ServedPage:
    """Clips of the hashtags the viewer follows, newest first (a clip with two of them once)."""
    links = await viewer_links(viewer, services=services)
    return await _chronological(links, [tag_key(t) for t in links.tags[:200]], tab="hashtags",
                                cursor=cursor, limit=limit, services=services)


async def _chronological(links: Links, lists: list[str], *, services: Services, tab: str, cursor: str | None,
                         limit: int) -> ServedPage:
    """The newest clips of the feed's per-creator or per-hashtag lists, minus blocked creators
    and muted clips; the cursor holds the last publication time."""
    started = time.perf_counter()
    before = cursor_float(decode_cursor(cursor), "before", float("inf"))
    newest_of = await asyncio.gather(*(services.cache.ztop(key, 100) for key in lists))
    times: dict[int, float] = {}
    for members in newest_of:
        for member, score in members:
            if score < before:
                times[int(member)] = score
    newest = sorted(times.items(), key=lambda kv: (-kv[1], -kv[0]))
    window = [c for c, _ in newest[: limit * 2]]
    found = await get_cards(services.cache, window)
    rendered = dict(zip(window, await services.cache.get_many([view_key(c) for c in window]), strict=True))
    chosen = [(c, s) for c, s in newest[: limit * 2] if c in found and found[c].creator_id not in links.blocked
              and not muted(links.mutes, found[c], rendered.get(c))][:limit]
    items = [Ranked(c, found[c].creator_id, tab, "following", s, np.zeros(len(FEATURE_NAMES), np.float32))
             for c, s in chosen]
    more = len(newest) > len(chosen) and bool(chosen)
    PAGES.labels(tab, "chronological").inc()
    PAGE_SECONDS.labels(tab, "chronological").observe(time.perf_counter() - started)
    return ServedPage(items, {c: found[c] for c, _ in chosen},
                      encode_cursor({"before": chosen[-1][1]}) if more else None, "chronological", "none", "",
                      {c: v for c, v in rendered.items() if v is not None})
