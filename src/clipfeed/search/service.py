"""Search use cases: clips, creators and hashtags for a query; suggestions as one types.

The engine finds candidates (recall, ``CANDIDATES`` at most); one scorer ranks them the same
on every engine (``scoring``); ``access`` drops what the viewer may not see; the blend adds
engagement, freshness and affinity (``scoring.WEIGHTS``). Pages are slices of that ranking
behind an opaque cursor."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from clipfeed.accounts import service as accounts
from clipfeed.clips.models import Clip
from clipfeed.core.errors import BadRequest, Invalid
from clipfeed.core.pagination import decode_cursor, encode_cursor
from clipfeed.infra.search import ClipFilters, CreatorDocument, HashtagCount, SearchIndex
from clipfeed.search import access, mutes, querylog
from clipfeed.search.query import ParsedQuery, parse
from clipfeed.search.scoring import (
    CLIP_FIELDS,
    WEIGHTS,
    best_match,
    blend,
    clip_fields,
    engagement,
    freshness,
    text_score,
)
from clipfeed.search.semantic import fuse, neighbours
from clipfeed.social import follows
from clipfeed.stream.counters import get_clip_counts

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

CANDIDATES = 300
RANKED = 100  # results of a query at most (5 pages of 20)
_logging: set[asyncio.Task[None]] = set()  # query-log writes in flight (kept from the collector)
SIDE_RESULTS = 3  # creators and hashtags shown beside clips in type=all


@dataclass
class ClipResult:
    clip: Clip
    owner_handle: str | None
    score: float


@dataclass
class SearchPage:
    clips: list[ClipResult] = field(default_factory=list)
    creators: list[tuple[CreatorDocument, float]] = field(default_factory=list)
    hashtags: list[tuple[HashtagCount, float]] = field(default_factory=list)
    next_cursor: str | None = None


async def _log_query(region: str, text: str, *, services: Services) -> None:
    try:
        await querylog.record(db=services.db, region=region, query=text)
    except Exception as exc:  # a busy database loses a count, never a search
        structlog.get_logger(__name__).warning("search.query_log_failed", error=str(exc))


async def logged() -> None:
    """Wait for the query-log writes in flight (tests, shutdown)."""
    await asyncio.gather(*list(_logging), return_exceptions=True)


def _offset(cursor: str | None) -> int:
    """Where a page starts. The cursor is the API's one kind (``core.pagination``), holding an
    offset into the ranked results."""
    try:
        offset = decode_cursor(cursor).get("offset", 0)
    except BadRequest:
        offset = -1
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= CANDIDATES + RANKED:
        raise Invalid("cursor: not one this endpoint returned")
    return offset


def _cursor(offset: int) -> str:
    return encode_cursor({"offset": offset})


async def ranked_clips(*, services: Services, index: SearchIndex, viewer_id: int | None, query: ParsedQuery,
                       filters: ClipFilters, semantic: bool = False) -> list[ClipResult]:
    """Every visible matching clip, best first. With ``semantic``, clips close in meaning join
    by reciprocal rank fusion (not for ``#tag``, ``@handle`` or quoted queries: those ask for
    exactly that)."""
    docs = await index.clip_candidates(query.all_terms, filters=filters, limit=CANDIDATES)
    weights = dict(CLIP_FIELDS)
    texts = {d.clip_id: text_score(query, clip_fields(d.caption, d.tags, d.handle, d.display_name, d.detected_text),
                                   weights) for d in docs}
    # Only the best RANKED by text go on to the row checks, counters and blend: text dominates
    # the blend, so a clip below them would not reach the first pages, and each one costs rows.
    best = sorted((i for i, s in texts.items() if s >= WEIGHTS.min_text), key=lambda i: (-texts[i], -i))[:RANKED]
    texts = {i: texts[i] for i in best}
    meaning: list[int] = []
    if semantic and not (query.tags or query.handles or query.phrases):
        near = await neighbours(db=services.db, text=query.text, threads=services.settings.embedding_threads)
        meaning = [d.clip_id for d in await index.clips(near, filters=filters)]
    visible = await access.visible_clips(db=services.db, viewer_id=viewer_id, clip_ids=list({*texts, *meaning}))
    muted = await mutes.of(db=services.db, user_id=viewer_id)
    visible = {i: c for i, c in visible.items() if not muted.hides(c)}
    if not visible:
        return []
    counts = await get_clip_counts(services=services, clip_ids=list(visible))
    followed: set[int] = set()
    if viewer_id is not None:
        followed = set(await follows.followee_ids(db=services.db, user_id=viewer_id))
    owners = await accounts.get_many(db=services.db, user_ids=list({c.owner_id for c in visible.values()}))
    now = time.time()
    lexical: dict[int, float] = {}
    for clip_id in texts.keys() & visible.keys():
        clip, n = visible[clip_id], counts[clip_id]
        published = (clip.published_at or clip.created_at).timestamp()
        lexical[clip_id] = blend(texts[clip_id], engagement_score=engagement(n.views, n.likes, n.shares),
                                 freshness_score=freshness(now - published), followed=clip.owner_id in followed)
    scores = lexical
    if meaning:
        by_text = sorted(lexical, key=lambda i: (-lexical[i], -i))
        scores = fuse(by_text, [i for i in meaning if i in visible])
    results = []
    for clip_id, score in scores.items():
        owner = owners.get(visible[clip_id].owner_id)
        results.append(ClipResult(visible[clip_id], owner.handle if owner else None, round(score, 6)))
    results.sort(key=lambda r: (-r.score, -r.clip.id))
    return results


async def ranked_creators(*, services: Services, index: SearchIndex, viewer_id: int | None,
                          query: ParsedQuery) -> list[tuple[CreatorDocument, float]]:
    terms = [*query.handles, *query.terms]
    found = await index.creator_candidates(terms, limit=50)
    scored = []
    for creator in found:
        fields = {"handle": [creator.handle, *creator.handle.replace("_", " ").replace(".", " ").split()],
                  "name": clip_fields("", (), "", creator.display_name, "")["name"]}
        text = text_score(ParsedQuery(terms=terms, final=query.final), fields, {"handle": 1.0, "name": 0.9})
        if text >= WEIGHTS.min_text:
            scored.append((creator, text + 0.05 * min(1.0, math.log1p(creator.clip_count) / math.log1p(1000))))
    visible = await access.visible_creators(db=services.db, viewer_id=viewer_id,
                                            user_ids=[c.user_id for c, _ in scored])
    scored = [(c, round(s, 6)) for c, s in scored if c.user_id in visible]
    scored.sort(key=lambda cs: (-cs[1], cs[0].handle))
    return scored


async def ranked_hashtags(*, index: SearchIndex, query: ParsedQuery) -> list[tuple[HashtagCount, float]]:
    terms = [*query.tags, *query.terms]
    scored = []
    for tag in await index.hashtag_candidates(terms, limit=50):
        text = max(best_match(t, [tag.tag], typing=t == query.final) for t in terms)
        if text >= WEIGHTS.min_text:
            scored.append((tag, round(text + 0.05 * min(1.0, math.log1p(tag.clip_count) / math.log1p(10_000)), 6)))
    scored.sort(key=lambda ts: (-ts[1], ts[0].tag))
    return scored


async def search(*, services: Services, index: SearchIndex, viewer_id: int | None, text: str, kind: str,
                 filters: ClipFilters, cursor: str | None, limit: int, region: str,
                 semantic: bool = True) -> SearchPage:
    query = parse(text)
    if query.empty:
        raise Invalid("q: type at least one word, #hashtag or @handle")
    offset = _offset(cursor)
    page = SearchPage()
    if kind in ("all", "clips"):
        clips = await ranked_clips(services=services, index=index, viewer_id=viewer_id, query=query, filters=filters,
                                   semantic=semantic)
        page.clips = clips[offset:offset + limit]
        page.next_cursor = _cursor(offset + limit) if offset + limit < len(clips) else None
    side = SIDE_RESULTS if kind == "all" else limit
    if kind in ("all", "creators") and (kind != "all" or offset == 0) and not query.tags:
        creators = await ranked_creators(services=services, index=index, viewer_id=viewer_id, query=query)
        start = 0 if kind == "all" else offset
        page.creators = creators[start:start + side]
        if kind == "creators":
            page.next_cursor = _cursor(offset + limit) if offset + limit < len(creators) else None
    if kind in ("all", "hashtags") and (kind != "all" or offset == 0) and not query.handles:
        tags = await ranked_hashtags(index=index, query=query)
        start = 0 if kind == "all" else offset
        page.hashtags = tags[start:start + side]
        if kind == "hashtags":
            page.next_cursor = _cursor(offset + limit) if offset + limit < len(tags) else None
    if offset == 0 and (page.clips or page.creators or page.hashtags):
        # Off the request path: the answer does not wait for the log's write (on SQLite, a
        # write waits for the one writer), and a lost count only makes a suggestion later.
        task = asyncio.create_task(_log_query(region, query.text, services=services))
        _logging.add(task)
        task.add_done_callback(_logging.discard)
    return page
