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


async def suggest(*, services: Services, index: SearchIndex, viewer_id: int | None, text: str, limit: int,
                  region: str) -> list[tuple[Kind, str, int]]:
    stripped = text.strip()
    last = (words(stripped) or [""])[-1]
    if not last:
        return []
    sigil = stripped[0] if stripped[0] in "#@" else ""
    scored: list[tuple[float, int, Kind, str]] = []
    near = (await typos.neighbours(index, [last], limit=5)).get(last, [])
    if sigil != "#":
        creators = await index.creator_candidates([last], limit=30)
        if near:
            known = {c.user_id for c in creators}
            creators += [c for c in await index.creator_candidates(near, limit=10) if c.user_id not in known]
        visible = await access.visible_creators(db=services.db, viewer_id=viewer_id,
                                                user_ids=[c.user_id for c in creators])
        for creator in creators:
            fit = _completes(last, creator.handle)
            if fit and creator.user_id in visible:
                scored.append((fit, creator.clip_count, "handle", "@" + creator.handle))
    if sigil != "@":
        tags = await index.hashtag_candidates([last], limit=30)
        if near:
            tags += [t for t in await index.hashtag_candidates(near, limit=10) if t.tag not in {x.tag for x in tags}]
        for tag in tags:
            fit = _completes(last, tag.tag)
            if fit:
                scored.append((fit, tag.clip_count, "hashtag", "#" + tag.tag))
    if not sigil:
        for query, count in await querylog.popular(db=services.db, region=region, prefix=fold(stripped), limit=limit):
            scored.append((1.0, count, "query", query))
    scored.sort(key=lambda s: (-s[0], -s[1], s[3]))
    out: list[tuple[Kind, str, int]] = []
    for _, count, kind, shown in scored:
        if (kind, shown) not in {(k, t) for k, t, _ in out}:
            out.append((kind, shown, count))
    return out[:limit]
