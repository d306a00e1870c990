"""Autocomplete: what the box's text may become — ``@handles``, ``#hashtags`` and popular past
queries of the region — each with a count. Up to three letters only prefixes count (a typo is
indistinguishable from another word that short); from the fourth, one typo is tolerated, from
the sixth two (``typos``), found by trigrams or, for a short word sharing none with the one
meant (``maler`` → ``#maker``), by the index's deletion neighbourhood."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from clipfeed.infra.search import SearchIndex
from clipfeed.infra.search.text import fold, words
from clipfeed.search import access, querylog, typos
from clipfeed.search.service import text_cache, turn

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

Kind = Literal["handle", "hashtag", "query"]


def _completes(typed: str, candidate: str) -> float:
    if candidate.startswith(typed):
        return 1.0
    limit = typos.edits_allowed(typed)
    if not limit:
        return 0.0
    # The typed text with a typo may still be a prefix: compare it with the start of the
    # candidate or of one of its words (``_``-separated), a letter shorter or longer too.
    best: int | None = None
    for word in dict.fromkeys([candidate, *candidate.replace(".", "_").split("_")]):
        for size in (len(typed) - 1, len(typed), len(typed) + 1):
            found = typos.distance(typed, word[:size], limit) if size <= len(word) else None
            if found is not None and (best is None or found < best):
                best = found
    return 0.0 if best is None else 0.7 if best <= 1 else 0.5


async def _completions(index: SearchIndex, last: str, sigil: str, want: int,
                       limit: int) -> list[tuple[float, int, Kind, str, int]]:
    """Handles and hashtags the word may become: (fit, count, kind, shown, user ID or 0), up to
    ``limit`` of each kind for ``want`` shown. Prefixes first, from an index range on the
    folded handle and the hashtag; typos (trigrams, the deletion neighbourhood) only from the
    fourth letter and only while the prefixes leave room: a typo's fit is below any prefix's,
    so it could not be shown above one anyway."""
    out: list[tuple[float, int, Kind, str, int]] = []
    creators = await index.creators_starting(last, limit=limit) if sigil != "#" else []
    tags = await index.hashtags_starting(last, limit=limit) if sigil != "@" else []
    if typos.edits_allowed(last) and len(creators) + len(tags) < want:
        near = (await typos.neighbours(index, [last], limit=5)).get(last, [])
        if sigil != "#":
            known = {c.user_id for c in creators}
            creators += [c for c in await index.creator_candidates([last], limit=30) if c.user_id not in known]
            if near:
                known = {c.user_id for c in creators}
                creators += [c for c in await index.creator_candidates(near, limit=10) if c.user_id not in known]
        if sigil != "@":
            known_tags = {t.tag for t in tags}
            tags += [t for t in await index.hashtag_candidates([last, *near], limit=30) if t.tag not in known_tags]
    for creator in creators:
        if fit := _completes(last, creator.handle):
            out.append((fit, creator.clip_count, "handle", "@" + creator.handle, creator.user_id))
    for tag in tags:
        if fit := _completes(last, tag.tag):
            out.append((fit, tag.clip_count, "hashtag", "#" + tag.tag, 0))
    return out


async def suggest(*, services: Services, index: SearchIndex, viewer_id: int | None, text: str, limit: int,
                  region: str) -> list[tuple[Kind, str, int]]:
    stripped = text.strip()
    last = (words(stripped) or [""])[-1]
    if not last:
        return []
    sigil = stripped[0] if stripped[0] in "#@" else ""
    # Every read in one session (``Database.shared_reads``), once its turn comes (``service.turn``).
    async with turn(services=services), services.db.shared_reads():
        # Completions depend on the index alone: kept per index version (``service.text_cache``).
        # Who may be shown is decided on every request.
        version = await index.version()
        key = ("suggest", last, sigil, limit)
        cache = text_cache(services.db)
        cached = cache.get(version, key)
        if isinstance(cached, list):
            found: list[tuple[float, int, Kind, str, int]] = cached
        else:
            # A few more than asked: some creators may be hidden from this viewer.
            found = await _completions(index, last, sigil, limit, limit + 5)
            cache.put(version, key, found)
        visible = await access.visible_creators(db=services.db, viewer_id=viewer_id,
                                                user_ids=[u for *_, u in found if u])
        scored: list[tuple[float, int, Kind, str]] = [(fit, count, kind, shown)
                                                      for fit, count, kind, shown, user in found
                                                      if not user or user in visible]
        if not sigil:
            for query, count in await querylog.popular(db=services.db, region=region, prefix=fold(stripped),
                                                       limit=limit):
                scored.append((1.0, count, "query", query))
    scored.sort(key=lambda s: (-s[0], -s[1], s[3]))
    out: list[tuple[Kind, str, int]] = []
    for _, count, kind, shown in scored:
        if (kind, shown) not in {(k, t) for k, t, _ in out}:
            out.append((kind, shown, count))
    return out[:limit]
