"""Text normalisation shared by the index adapters and the scorer: both sides of a match must
fold text the same way, or an accent or a capital letter would hide a document."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Lowercase, accents removed (``Café`` → ``cafe``), other scripts kept as they are."""
    if text.isascii():  # most text: the same result without a pass per character
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words of ``text`` (``_`` kept inside a word, as in handles and hashtags)."""
    return WORD.findall(fold(text))


def trigrams(word: str) -> list[str]:
    """The distinct three-character substrings of a word, in order."""
    seen: dict[str, None] = {}
    for i in range(len(word) - 2):
        seen.setdefault(word[i:i + 3], None)
    return list(seen)


# Words of these lengths go into the deletion neighbourhood (``search_term_variants``): a
# longer word two edits away from another always keeps a three-letter piece in common with
# it, so the trigram indexes find it; a shorter one is too short to tell from other words.
NEIGHBOURHOOD = (4, 8)
NEIGHBOUR_EDITS = 2


def deletions(word: str, depth: int = NEIGHBOUR_EDITS) -> set[str]:
    """``word`` and every string made by deleting up to ``depth`` of its characters."""
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w)) if len(w) > 1}
        found |= frontier
    return found


def neighbourhood_words(text: str) -> list[str]:
    """The words of a handle or hashtag that go into the deletion neighbourhood: split at
    ``_`` and ``.``, of ``NEIGHBOURHOOD`` lengths, not only digits."""
    low, high = NEIGHBOURHOOD
    return [w for w in dict.fromkeys(fold(text).replace("_", " ").replace(".", " ").split())
            if low <= len(w) <= high and not w.isdigit()]
