"""Search use cases: clips, creators and hashtags for a query; suggestions as one types.

The engine finds candidates (recall, ``CANDIDATES`` at most); one scorer ranks them the same
on every engine (``scoring``); ``access`` drops what the viewer may not see; the blend adds
engagement, freshness and affinity (``scoring.WEIGHTS``). Pages are slices of that ranking
behind an opaque cursor."""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple
from weakref import WeakKeyDictionary, WeakSet

import sqlalchemy as sa
import structlog

from clipfeed.clips.models import Clip, ClipStatus, Visibility
from clipfeed.core.errors import BadRequest, Invalid
from clipfeed.core.pagination import decode_cursor, encode_cursor
from clipfeed.federation import service as federation
from clipfeed.federation.service import RemoteRule
from clipfeed.infra.db import Database
from clipfeed.infra.search import ClipFilters, CreatorDocument, HashtagCount, SearchIndex
from clipfeed.search import access, querylog, typos
from clipfeed.search.query import ParsedQuery, parse
from clipfeed.search.scoring import (
    CLIP_FIELDS,
    WEIGHTS,
    Fields,
    TextScorer,
    best_match,
    blend,
    clip_fields,
    engagement,
    freshness,
)
from clipfeed.search.semantic import fuse, neighbours
from clipfeed.stream.counters import get_clip_counts

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

CANDIDATES = 300
RANKED = 100  # results of a query at most (5 pages of 20)
SIDE_RESULTS = 3  # creators and hashtags shown beside clips in type=all
_CLIP_WEIGHTS = dict(CLIP_FIELDS)
_CREATOR_WEIGHTS = {"handle": 1.0, "name": 0.9}


class TextHit(NamedTuple):
    """A candidate's text score, with what the blend needs of it before its row is read (the
    index's copy: a clip's owner never changes, and its publication time is the row's)."""

    text: float
    owner_id: int
    published: float  # seconds since the epoch


@dataclass(frozen=True)
class Ranked:
    clip_id: int
    owner_handle: str
    score: float


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


# The query log is counted in memory and written once a second, one transaction for every
# search of that second: a write per search cost as much as a search's reads on SQLite. The
# writer is a background loop of the services; when they close it writes what is left before
# the database closes. A process killed loses at most a second of counts.
LOG_EVERY_S = 1.0
_pending: dict[Database, dict[tuple[str, str], int]] = {}
_writers: WeakSet[Database] = WeakSet()


_turns: WeakKeyDictionary[Database, asyncio.Semaphore] = WeakKeyDictionary()


def turn(*, services: Services) -> asyncio.Semaphore:
    """The gate a search or a suggestion passes to run: ``search_concurrency`` at once in this
    process (per database), the others waiting in arrival order before they open a session."""
    gate = _turns.get(services.db)
    if gate is None:
        gate = _turns[services.db] = asyncio.Semaphore(services.settings.search_concurrency)
    return gate


def _count_query(region: str, text: str, *, services: Services) -> None:
    if services.db not in _writers:
        _writers.add(services.db)
        services.spawn(_log_writer(services.db), name="search-query-log")
    counts = _pending.setdefault(services.db, {})
    counts[(region, text)] = counts.get((region, text), 0) + 1


async def _log_writer(db: Database) -> None:
    try:
        while True:
            await asyncio.sleep(LOG_EVERY_S)
            await _write_log(db)
    finally:  # cancelled as the services close
        await _write_log(db)


async def _write_log(db: Database) -> None:
    counts = _pending.pop(db, {})
    if not counts:
        return
    try:
        await querylog.record_many(db=db, counts=counts)
    except Exception as exc:  # a busy database loses a count, never a search
        structlog.get_logger(__name__).warning("search.query_log_failed", error=str(exc))


async def logged() -> None:
    """Write the counted queries now (tests)."""
    for db in list(_pending):
        await _write_log(db)


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


class Neighbours:
    """The typo neighbours (``typos``) of a request's words, each looked up at most once and
    only when asked: for a word the plain candidates left unmatched."""

    def __init__(self, index: SearchIndex) -> None:
        self.index = index
        self.known: dict[str, list[str]] = {}

    async def of(self, terms: list[str]) -> dict[str, list[str]]:
        asked = [t for t in dict.fromkeys(terms) if t not in self.known and typos.edits_allowed(t)]
        if asked:
            self.known.update({t: [] for t in asked})
            self.known.update(await typos.neighbours(self.index, asked, limit=5))
        return {t: self.known[t] for t in terms if self.known.get(t)}


# A query word counts as found when a candidate holds it whole, in a word form or as the start
# of a word (``scoring.word_match`` 0.85 and up); only the others get their typo neighbours.
FOUND = 0.85


def unmatched(terms: list[str], fields_of: list[Fields], typing: str | None) -> list[str]:
    """The ``terms`` that no field of any candidate (``fields_of``: one dict per candidate)
    holds."""
    return [term for term in terms
            if not any(best_match(term, words, typing=term == typing) >= FOUND
                       for fields in fields_of for words in fields.values())]


class TextCache:
    """Text rankings of recent queries (popular ones stay: least recently used go first),
    valid for one version of the index (``SearchIndex.version``): a write to the index makes
    every entry stale at once. Only what the index alone decides is kept — which documents
    match and how well their words do; what a viewer may see, the counters and the blend are
    computed on every request."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self.version = -1
        self.entries: OrderedDict[tuple[object, ...], object] = OrderedDict()

    def get(self, version: int, key: tuple[object, ...]) -> object | None:
        if version != self.version:
            self.entries.clear()
            self.version = version
            return None
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, version: int, key: tuple[object, ...], value: object) -> None:
        if version != self.version:
            return
        self.entries[key] = value
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)


_caches: WeakKeyDictionary[Database, TextCache] = WeakKeyDictionary()


def text_cache(db: Database) -> TextCache:
    """The cache of ``db``'s index (one per database: two databases may be at the same version)."""
    found = _caches.get(db)
    if found is None:
        found = _caches[db] = TextCache()
    return found


def _key(query: ParsedQuery) -> tuple[object, ...]:
    return (tuple(query.terms), tuple(query.tags), tuple(query.handles), tuple(map(tuple, query.phrases)),
            query.final)


async def text_ranked_clips(*, index: SearchIndex, query: ParsedQuery, filters: ClipFilters,
                            near: Neighbours) -> dict[int, TextHit]:
    """The best ``RANKED`` candidates by text alone: clip ID → text score (with its owner and
    publication time)."""
    terms = query.all_terms
    docs = await index.clip_candidates(terms, filters=filters, limit=CANDIDATES, pieces=False)
    fields = [clip_fields(d.caption, d.tags, d.handle, d.display_name, d.detected_text) for d in docs]
    # Typos: only for the words the plain candidates left unmatched. Their neighbours are
    # searched as words too, so a typo sharing no trigram with the word meant ("maler" for
    # "maker") still finds it, and at scale the engine need not rank pieces of words for a
    # misspelt common word.
    missing = unmatched([*query.terms, *query.tags], fields, query.final)
    close = await near.of(missing) if missing else {}
    if close or len(docs) < CANDIDATES:
        # Those already read are not read again (a document is a row and an object to build).
        more = await index.clip_candidates(terms, filters=filters, limit=CANDIDATES, near=close, words=bool(close),
                                           held={d.clip_id for d in docs})
        docs += more[:CANDIDATES - len(docs)]
        fields += [clip_fields(d.caption, d.tags, d.handle, d.display_name, d.detected_text)
                   for d in more[:CANDIDATES - len(fields)]]
    score = TextScorer(query, _CLIP_WEIGHTS)
    texts = {d.clip_id: score(f) for d, f in zip(docs, fields, strict=True)}
    # Only the best RANKED by text go on to the row checks, counters and blend: text dominates
    # the blend, so a clip below them would not reach the first pages, and each one costs rows.
    best = sorted((i for i, s in texts.items() if s >= WEIGHTS.min_text), key=lambda i: (-texts[i], -i))[:RANKED]
    found = {d.clip_id: d for d in docs}
    return {i: TextHit(texts[i], found[i].owner_id, found[i].published) for i in best}


async def ranked_clips(*, services: Services, index: SearchIndex, viewer_id: int | None, query: ParsedQuery,
                       filters: ClipFilters, semantic: bool = False, near: Neighbours | None = None,
                       version: int | None = None, who: access.Viewer | None = None,
                       wanted: int | None = None) -> list[Ranked]:
    """Every visible matching clip, best first. With ``semantic``, clips close in meaning join
    by reciprocal rank fusion (not for ``#tag``, ``@handle`` or quoted queries: those ask for
    exactly that). With the index's ``version``, the text ranking may come from ``text_cache``;
    ``who`` is the viewer's ``access.viewer`` when already read. With ``wanted``, only the best
    ``wanted`` visible ones (all of them when fewer)."""
    key = ("clips", _key(query), filters)
    cache = text_cache(services.db)
    cached = cache.get(version, key) if version is not None else None
    if isinstance(cached, dict):
        texts: dict[int, TextHit] = cached
    else:
        texts = await text_ranked_clips(index=index, query=query, filters=filters, near=near or Neighbours(index))
        if version is not None:
            cache.put(version, key, texts)
    meaning: list[int] = []
    if semantic and not (query.tags or query.handles or query.phrases):
        close = await neighbours(db=services.db, text=query.text, threads=services.settings.embedding_threads)
        meaning = [d.clip_id for d in await index.clips(close, filters=filters)]
    if not texts and not meaning:
        return []
    if who is None:
        who = await access.viewer(db=services.db, viewer_id=viewer_id)
    remote = await federation.discovery_rule(services=services)
    if wanted is not None and not meaning:
        return await _best_visible(texts, wanted, who=who, remote=remote, services=services)
    visible = await access.ranked_rows(db=services.db, who=who, clip_ids=list({*texts, *meaning}), remote=remote)
    if not visible:
        return []
    engaged = await engagements(services=services, clip_ids=list(visible))
    now = time.time()
    lexical: dict[int, float] = {}
    for clip_id in texts.keys() & visible.keys():
        clip = visible[clip_id]
        lexical[clip_id] = blend(texts[clip_id].text, engagement_score=engaged[clip_id],
                                 freshness_score=freshness(now - clip.published_at.timestamp()),
                                 followed=clip.owner_id in who.followed)
    scores = lexical
    if meaning:
        by_text = sorted(lexical, key=lambda i: (-lexical[i], -i))
        scores = fuse(by_text, [i for i in meaning if i in visible])
    results = [Ranked(clip_id, visible[clip_id].owner_handle, round(score, 6)) for clip_id, score in scores.items()]
    results.sort(key=lambda r: (-r.score, -r.clip_id))
    return results


# Rows checked beyond those wanted, so that a few hidden ones need no second look-up.
SPARE_ROWS = 10


async def _best_visible(texts: dict[int, TextHit], wanted: int, *, who: access.Viewer, remote: RemoteRule,
                        services: Services) -> list[Ranked]:
    """The best ``wanted`` visible clips of a lexical ranking, checking only as many rows as it
    takes. The blend is worked out for every candidate first from the index's copy of its owner
    and publication time (the same as the row's: an owner never changes, and the index copies
    the publication time), so the order is the one checking every row would give; then the
    rows are checked best first (``access.ranked_rows``, the same check), ``wanted`` and a few
    spare at a time, until enough are visible. A first page checks about 30 rows, not 100
    (each row checked cost 35 µs of CPU)."""
    engaged = await engagements(services=services, clip_ids=list(texts))
    now = time.time()

    def scored(clip_id: int, owner_id: int, published: float) -> float:
        return round(blend(texts[clip_id].text, engagement_score=engaged[clip_id],
                           freshness_score=freshness(now - published), followed=owner_id in who.followed), 6)

    order = sorted(texts, key=lambda i: (-scored(i, texts[i].owner_id, texts[i].published), -i))
    results: list[Ranked] = []
    checked = 0
    while checked < len(order) and len(results) < wanted:
        batch = order[checked:checked + wanted - len(results) + SPARE_ROWS]
        checked += len(batch)
        visible = await access.ranked_rows(db=services.db, who=who, clip_ids=batch, remote=remote)
        # Scored again from the row: the same unless the row changed since it was indexed.
        results += [Ranked(i, row.owner_handle, scored(i, row.owner_id, row.published_at.timestamp()))
                    for i in batch if (row := visible.get(i)) is not None]
    results.sort(key=lambda r: (-r.score, -r.clip_id))
    return results[:wanted]


# Each clip's engagement score (``scoring.engagement`` of its stream counters), kept per process
# for ``ENGAGEMENT_TTL_S``: the same clips are candidates of many searches (the newest clips
# holding common words), and reading their counters back was a tenth of a search's CPU. The
# counters themselves trail the events by the stream processor's lag, and a copy read back from
# the database is cached for 30 s (``stream.counters``): this adds at most 10 s to that.
ENGAGEMENT_TTL_S = 10.0
ENGAGEMENTS_KEPT = 200_000
_engagements: WeakKeyDictionary[Database, dict[int, tuple[float, float]]] = WeakKeyDictionary()


async def engagements(*, services: Services, clip_ids: list[int]) -> dict[int, float]:
    """The engagement score of each clip: kept ones if fresh, the others from the counters."""
    kept = _engagements.get(services.db)
    if kept is None:
        kept = _engagements[services.db] = {}
    now = time.monotonic()
    out: dict[int, float] = {}
    for clip_id in clip_ids:
        found = kept.get(clip_id)
        if found is not None and found[1] > now:
            out[clip_id] = found[0]
    if missing := [c for c in clip_ids if c not in out]:
        if len(kept) + len(missing) > ENGAGEMENTS_KEPT:
            kept.clear()
        until = now + ENGAGEMENT_TTL_S
        for clip_id, n in (await get_clip_counts(services=services, clip_ids=missing)).items():
            out[clip_id] = score = engagement(n.views, n.likes, n.shares)
            kept[clip_id] = (score, until)
    return out


_PAGE_ROWS = sa.select(Clip).where(Clip.id.in_(sa.bindparam("ids", expanding=True)))  # built once


async def _rows(ranked: list[Ranked], *, services: Services) -> list[ClipResult]:
    """The full rows of a page of results (what the API shows of a clip). Read after the
    ranking's check: a clip that changed in between is dropped, never shown."""
    if not ranked:
        return []
    async with services.db.read_session() as session:
        rows = {c.id: c for c in await session.scalars(_PAGE_ROWS, {"ids": list({r.clip_id for r in ranked})})}
    return [ClipResult(rows[r.clip_id], r.owner_handle, r.score) for r in ranked
            if r.clip_id in rows and rows[r.clip_id].status == ClipStatus.ready.value
            and rows[r.clip_id].visibility == Visibility.public.value]


def _creator_words(creator: CreatorDocument) -> Fields:
    return {"handle": [creator.handle, *creator.handle.replace("_", " ").replace(".", " ").split()],
            "name": clip_fields("", (), "", creator.display_name, "")["name"]}


# Candidates of the creators and hashtags beside the clips (``type=all`` shows the best 3): a
# pool of 10 leaves room for some hidden from the viewer, and once whole words fill it
# PostgreSQL skips the pieces of words, which could not rank above whole words anyway.
SIDE_CANDIDATES = 10
KIND_CANDIDATES = 50  # type=creators, type=hashtags


async def text_ranked_creators(*, index: SearchIndex, query: ParsedQuery, near: Neighbours,
                               limit: int = KIND_CANDIDATES) -> list[tuple[CreatorDocument, float]]:
    terms = [*query.handles, *query.terms]
    found = await index.creator_candidates(terms, limit=limit)
    words = [_creator_words(c) for c in found]
    missing = unmatched(terms, words, query.final)
    close = await near.of(missing) if missing else {}
    if extra := [w for w in dict.fromkeys(w for ws in close.values() for w in ws) if w not in terms]:
        # "maler" for @maker_jo: no trigram in common
        known = {c.user_id for c in found}
        more = [c for c in await index.creator_candidates(extra, limit=20) if c.user_id not in known]
        found += more
        words += [_creator_words(c) for c in more]
    scored = []
    score = TextScorer(ParsedQuery(terms=terms, final=query.final), _CREATOR_WEIGHTS)
    for creator, fields in zip(found, words, strict=True):
        text = score(fields)
        if text >= WEIGHTS.min_text:
            scored.append((creator, text + 0.05 * min(1.0, math.log1p(creator.clip_count) / math.log1p(1000))))
    return scored


async def ranked_creators(*, services: Services, index: SearchIndex, viewer_id: int | None,
                          query: ParsedQuery, near: Neighbours | None = None, version: int | None = None,
                          limit: int = KIND_CANDIDATES,
                          hidden: frozenset[int] | None = None) -> list[tuple[CreatorDocument, float]]:
    key = ("creators", _key(query), limit)
    cache = text_cache(services.db)
    cached = cache.get(version, key) if version is not None else None
    if isinstance(cached, list):
        scored: list[tuple[CreatorDocument, float]] = cached
    else:
        scored = await text_ranked_creators(index=index, query=query, near=near or Neighbours(index), limit=limit)
        if version is not None:
            cache.put(version, key, scored)
    visible = await access.visible_creators(db=services.db, viewer_id=viewer_id,
                                            user_ids=[c.user_id for c, _ in scored], hidden=hidden)
    shown = [(c, round(s, 6)) for c, s in scored if c.user_id in visible]
    shown.sort(key=lambda cs: (-cs[1], cs[0].handle))
    return shown


async def ranked_hashtags(*, index: SearchIndex, query: ParsedQuery, near: Neighbours | None = None,
                          version: int | None = None, cache: TextCache | None = None,
                          limit: int = KIND_CANDIDATES) -> list[tuple[HashtagCount, float]]:
    key = ("hashtags", _key(query), limit)
    cached = cache.get(version, key) if cache is not None and version is not None else None
    if isinstance(cached, list):
        return cached
    near = near or Neighbours(index)
    terms = [*query.tags, *query.terms]
    found = await index.hashtag_candidates(terms, limit=limit)
    missing = unmatched(terms, [{"tag": [t.tag]} for t in found], query.final)
    close = await near.of(missing) if missing else {}
    if extra := [w for w in dict.fromkeys(w for ws in close.values() for w in ws) if w not in terms]:
        known = {t.tag for t in found}
        found += [t for t in await index.hashtag_candidates(extra, limit=20) if t.tag not in known]
    scored = []
    for tag in found:
        text = max(best_match(t, [tag.tag], typing=t == query.final) for t in terms)
        if text >= WEIGHTS.min_text:
            scored.append((tag, round(text + 0.05 * min(1.0, math.log1p(tag.clip_count) / math.log1p(10_000)), 6)))
    scored.sort(key=lambda ts: (-ts[1], ts[0].tag))
    if cache is not None and version is not None:
        cache.put(version, key, scored)
    return scored


async def search(*, services: Services, index: SearchIndex, viewer_id: int | None, text: str, kind: str,
                 filters: ClipFilters, cursor: str | None, limit: int, region: str,
                 semantic: bool = True) -> SearchPage:
    query = parse(text)
    if query.empty:
        raise Invalid("q: type at least one word, #hashtag or @handle")
    offset = _offset(cursor)
    # Every read of the request in one session (``Database.shared_reads``): a dozen statements
    # without a connection checkout and a commit each; opened once the request's turn comes.
    async with turn(services=services), services.db.shared_reads():
        page = await _search_page(services=services, index=index, viewer_id=viewer_id, query=query, kind=kind,
                                  filters=filters, offset=offset, limit=limit, semantic=semantic)
    if offset == 0 and (page.clips or page.creators or page.hashtags):
        # Off the request path: the answer does not wait for the log's write (on SQLite, a
        # write waits for the one writer), and a lost count only makes a suggestion later.
        _count_query(region, query.text, services=services)
    return page


async def _search_page(*, services: Services, index: SearchIndex, viewer_id: int | None, query: ParsedQuery,
                       kind: str, filters: ClipFilters, offset: int, limit: int, semantic: bool) -> SearchPage:
    page = SearchPage()
    near = Neighbours(index)  # typo neighbours, shared by clips, creators and hashtags
    version = await index.version()
    who: access.Viewer | None = None  # read once, when clips or creators need it
    if kind in ("all", "clips"):
        who = await access.viewer(db=services.db, viewer_id=viewer_id)
        # One more than the page: whether a next page exists.
        clips = await ranked_clips(services=services, index=index, viewer_id=viewer_id, query=query, filters=filters,
                                   semantic=semantic, near=near, version=version, who=who, wanted=offset + limit + 1)
        page.clips = await _rows(clips[offset:offset + limit], services=services)
        page.next_cursor = _cursor(offset + limit) if offset + limit < len(clips) else None
    side = SIDE_RESULTS if kind == "all" else limit
    pool = SIDE_CANDIDATES if kind == "all" else KIND_CANDIDATES
    if kind in ("all", "creators") and (kind != "all" or offset == 0) and not query.tags:
        creators = await ranked_creators(services=services, index=index, viewer_id=viewer_id, query=query,
                                         near=near, version=version, limit=pool,
                                         hidden=who.hidden if who is not None else None)
        start = 0 if kind == "all" else offset
        page.creators = creators[start:start + side]
        if kind == "creators":
            page.next_cursor = _cursor(offset + limit) if offset + limit < len(creators) else None
    if kind in ("all", "hashtags") and (kind != "all" or offset == 0) and not query.handles:
        tags = await ranked_hashtags(index=index, query=query, near=near, version=version,
                                     cache=text_cache(services.db), limit=pool)
        start = 0 if kind == "all" else offset
        page.hashtags = tags[start:start + side]
        if kind == "hashtags":
            page.next_cursor = _cursor(offset + limit) if offset + limit < len(tags) else None
    return page
