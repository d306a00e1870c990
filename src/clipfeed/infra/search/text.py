"""Text normalisation shared by the index adapters and the scorer: both sides of a match must
fold text the same way, or an accent or a capital letter would hide a document."""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+", re.UNICODE)


def fold(text: str) -> str:
    """Lowercase, accents removed (``Café`` → ``cafe``), other scripts kept as they are."""
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
