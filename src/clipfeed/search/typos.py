"""Typos too far from the word meant for the trigram indexes: a short word with one letter
wrong (``maler`` for ``maker``) shares no three-letter piece with it. The index's deletion
neighbourhood (``SearchIndex.term_neighbours``, SymSpell's idea: a word and a typo of it
within two edits share a string made by deleting at most two letters from each) gives the
candidates; the edits are measured here, with the scorer's edit distance.

Edits tolerated: one from four letters, two from six (shorter words are too close to other
words to guess). Suggest uses these; search adds the neighbours it finds to its recall and
the scorer decides (``scoring.word_match``)."""

from __future__ import annotations

from functools import lru_cache

from rapidfuzz.distance import OSA

from clipfeed.infra.search import SearchIndex

MIN_LENGTH = 4


def edits_allowed(term: str) -> int:
    return 2 if len(term) >= 6 else 1 if len(term) >= MIN_LENGTH else 0


@lru_cache(maxsize=65_536)
def distance(a: str, b: str, limit: int) -> int | None:
    """The edit distance of ``a`` and ``b`` (adjacent swaps count one, as ``scoring.edits_within``)
    when at most ``limit``."""
    found = OSA.distance(a, b, score_cutoff=limit)
    return found if found <= limit else None


async def neighbours(index: SearchIndex, terms: list[str], *, limit: int = 20) -> dict[str, list[str]]:
    """For each term long enough, the hashtag and handle words within its tolerated edits,
    closest first (the term itself excluded)."""
    asked = [t for t in dict.fromkeys(terms) if edits_allowed(t)]
    if not asked:
        return {}
    # A term allowed one edit needs only its one-letter deletions: the two-letter ones of a
    # short word are shared by a great many others.
    found = await index.term_neighbours({t: edits_allowed(t) for t in asked}, limit=200)
    out: dict[str, list[str]] = {}
    for term in asked:
        near = [(d, w) for w in found.get(term, []) if (d := distance(term, w, edits_allowed(term))) is not None]
        out[term] = [w for _, w in sorted(near)[:limit]]
    return out
