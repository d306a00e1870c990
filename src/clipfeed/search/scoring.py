"""How well a document matches a query (the same for every engine), and the ranking blend.

Match of one query word against one document word, best first:
exact 1.0 · same stem 0.9 · prefix of it (the word being typed, or ≥ 4 letters) 0.85 ·
inside it (≥ 4 letters, e.g. ``kitty`` in ``kittycat``) 0.6 · one edit away (≥ 4 letters) 0.7 ·
two edits away (≥ 8 letters) 0.5. A field's weight multiplies it; a word's score is its best
over the fields; the text score is the mean over the query's words, so a clip matching every
word beats one matching half of them whatever its popularity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import OSA

from clipfeed.infra.search.text import words
from clipfeed.search.query import ParsedQuery

SUFFIXES = ("ing", "ed", "es", "s", "ly", "er")
# A document's words by field (``clip_fields``): tuples, so that the tens of thousands kept in
# ``clip_fields``' cache are no work for the garbage collector (a tuple of strings is untracked;
# as lists they doubled a full collection's time).
Fields = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Weights:
    """The ranking blend, in one place. ``final = text·text_weight + engagement·… + …`` where
    every signal is in [0, 1]. Popularity and freshness together (0.25) weigh less than the
    gap between an exact word and a typo (0.3), so they reorder equally good matches, never a
    worse match above a better one; following the creator (0.2) may lift a typo match of
    theirs above a stranger's exact one, which is what people expect of a follow."""

    text: float = 1.0
    engagement: float = 0.15   # log-scaled views + 5·likes + 10·shares (stream counters)
    freshness: float = 0.10    # exp(-age / freshness_days)
    affinity: float = 0.20     # the viewer follows the creator
    freshness_days: float = 14.0
    engagement_scale: float = 1e6  # the score reaching 1.0
    min_text: float = 0.4      # below this a candidate is noise from the trigram recall


WEIGHTS = Weights()
# A plain word found only in the creator's handle or name says less about the clip than one
# in its caption or tags (``guitar`` should find guitar clips before every clip of
# @guitar_gabe); an ``@handle`` query matches the handle at full weight.
CLIP_FIELDS = (("tags", 1.0), ("caption", 0.85), ("handle", 0.6), ("name", 0.6), ("detected", 0.5))


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    for suffix in SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def edits_within(a: str, b: str, limit: int) -> bool:
    """Whether the optimal string alignment distance of ``a`` and ``b`` (Damerau-Levenshtein
    with adjacent swaps counting one and no letter edited twice) is at most ``limit``.
    RapidFuzz computes it in C and stops past ``limit``; the recursive Python version it
    replaced (the same answers on 600,000 random pairs) was a fifth of a new search's time
    in the event loop's thread."""
    return a == b or OSA.distance(a, b, score_cutoff=limit) <= limit


# Captions repeat the same words (Zipf): the same (query word, document word) pairs come back
# across candidates and queries, and the pure-Python edit distance is most of a search's CPU.
def word_match(term: str, word: str, *, typing: bool) -> float:
    return _word_match(term, word, typing)


@lru_cache(maxsize=262_144)
def _word_match(term: str, word: str, typing: bool) -> float:  # positional: a cheaper cache key
    if term == word:
        return 1.0
    if len(term) > 3 and stem(term) == stem(word):
        return 0.9
    if word.startswith(term) and (typing or len(term) >= 4):
        return 0.85
    if len(term) >= 4 and edits_within(term, word, 1):
        return 0.7
    if len(term) >= 4 and term in word:
        return 0.6
    if len(term) >= 8 and edits_within(term, word, 2):
        return 0.5
    return 0.0


class _TermMatches(dict[str, float]):
    """One query word's match against each document word met so far (``_word_match``),
    worked out on a word's first lookup and kept: a field's best is then ``max`` over
    dictionary lookups made in C. Lazily, only for the words a score asks about: a caption
    holding the query word whole answers in C and lighter fields are not
    tried once a heavier one matched (``TextScorer``), so most words of the candidates are
    never matched at all (working out every word of every candidate first was a fifth of a
    new query's CPU).

    Most words match no query word at all: a test made of C calls rules them out before
    ``_word_match``. A word that matches starts with the term's first three letters (same
    word, same stem or a prefix: a stem keeps three letters at least), or, from four letters,
    holds the term, or is as long give or take one and shares its first two letters, its last
    two or its first and last (one edit changes at most two neighbouring letters), or, from
    eight letters, is as long give or take two (two edits)."""

    __slots__ = ("first", "head", "last", "size", "start", "tail", "term", "typing")

    def __init__(self, term: str, typing: bool) -> None:
        super().__init__()
        self.term, self.typing, self.size = term, typing, len(term)
        self.start, self.head, self.tail, self.first, self.last = term[:3], term[:2], term[-2:], term[:1], term[-1:]

    def __missing__(self, word: str) -> float:
        size = self.size
        near = abs(len(word) - size)
        if (word.startswith(self.start) or size >= 4 and (
                self.term in word or size >= 8 and near <= 2 or near <= 1 and (
                    word.startswith(self.head) or word.endswith(self.tail)
                    or word[:1] == self.first and word[-1:] == self.last))):
            found = self[word] = _word_match(self.term, word, self.typing)
        else:
            found = self[word] = 0.0
        return found


_MATCHES: dict[tuple[str, bool], _TermMatches] = {}
_MAX_TERMS, _MAX_WORDS = 4096, 50_000  # bounds: query words kept, document words per query word


def _matches_of(term: str, typing: bool) -> _TermMatches:
    found = _MATCHES.get((term, typing))
    if found is None or len(found) > _MAX_WORDS:
        if len(_MATCHES) >= _MAX_TERMS:
            _MATCHES.clear()
        found = _MATCHES[(term, typing)] = _TermMatches(term, typing)
    return found


def best_match(term: str, field_words: Sequence[str], *, typing: bool) -> float:
    if term in field_words:  # the usual answer, found in C
        return 1.0
    if not field_words:
        return 0.0
    return max(map(_matches_of(term, typing).__getitem__, field_words))


class TextScorer:
    """How well documents match one query (the text score): built once per query, called for
    each document. Each query word's matches are looked up once, not once per field of every
    document, and the fields are tried heaviest first, so the first one a word is found in
    whole ends its search (a lighter field cannot do better): a search scores 300 candidates."""

    __slots__ = ("handles", "phrases", "tags", "terms", "weights")

    def __init__(self, query: ParsedQuery, weights: Mapping[str, float]) -> None:
        self.tags = [(t, _matches_of(t, t == query.final)) for t in query.tags]
        self.handles = [(h, _matches_of(h, h == query.final)) for h in query.handles]
        self.terms = [(t, _matches_of(t, t == query.final)) for t in query.terms]
        self.weights = sorted(weights.items(), key=lambda field: -field[1])
        self.phrases = query.phrases

    def __call__(self, fields: Fields) -> float:
        """Mean over the query's words of their best weighted match; 0 when a ``#tag``, an
        ``@handle`` or a quoted phrase is required and missing."""
        scores: list[float] = []
        for required, name in ((self.tags, "tags"), (self.handles, "handle")):
            for word, matches in required:
                field_words = fields.get(name, ())
                found = 1.0 if word in field_words else max(map(matches.__getitem__, field_words), default=0.0)
                if found == 0:
                    return 0.0
                scores.append(found)
        for term, matches in self.terms:
            best = 0.0
            for name, weight in self.weights:
                if weight <= best:  # this field and the lighter ones after it cannot do better
                    break
                held = fields.get(name)
                if not held:
                    continue
                found = weight if term in held else weight * max(map(matches.__getitem__, held))
                if found > best:
                    best = found
            scores.append(best)
        for phrase in self.phrases:
            if not any(_contains(fields.get(name, ()), phrase) for name in ("caption", "detected", "name")):
                return 0.0
        return sum(scores) / len(scores) if scores else 0.0


def _contains(haystack: Sequence[str], phrase: list[str]) -> bool:
    n, wanted = len(phrase), tuple(phrase)
    return any(tuple(haystack[i:i + n]) == wanted for i in range(len(haystack) - n + 1))


# A clip's words are the same in every search it is a candidate of (popular words make the
# same clips candidates again and again): split and folded once. Read-only for callers.
@lru_cache(maxsize=32_768)
def clip_fields(caption: str, tags: tuple[str, ...], handle: str, display_name: str,
                detected: str) -> Fields:
    return {"tags": tuple(map(str.lower, tags)),
            "handle": (handle, *words(handle.replace("_", " ").replace(".", " "))),
            "name": tuple(words(display_name)) if display_name else (),
            "caption": tuple(words(caption)) if caption else (),
            "detected": tuple(words(detected)) if detected else ()}


def engagement(views: int, likes: int, shares: int) -> float:
    raw = views + 5 * likes + 10 * shares
    return min(1.0, math.log1p(raw) / math.log1p(WEIGHTS.engagement_scale))


def freshness(age_s: float) -> float:
    return math.exp(-max(0.0, age_s) / (WEIGHTS.freshness_days * 86400))


def blend(text: float, *, engagement_score: float, freshness_score: float, followed: bool) -> float:
    return (WEIGHTS.text * text + WEIGHTS.engagement * engagement_score + WEIGHTS.freshness * freshness_score
            + (WEIGHTS.affinity if followed else 0.0))
