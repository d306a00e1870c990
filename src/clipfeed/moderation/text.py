"""Text rules for captions, hashtags, comments and bios: configurable word lists plus a few
spam signals. Shared by media screening and comments (the "filter hook")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from clipfeed.settings import Settings

WORDLISTS = Path(__file__).parent / "wordlists"
# Undo the character swaps people use to slip words past filters.
_SWAPS = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "$": "s", "@": "a",
                        "!": "i", "|": "l"})
_URL = re.compile(r"https?://|www\.", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_RUN = re.compile(r"(.)\1{9,}")


@dataclass(frozen=True)
class TextVerdict:
    """``score`` in [0, 1]: 1.0 reject, 0.5 review, lower is fine."""

    score: float
    matches: list[str] = field(default_factory=list)

    @property
    def action(self) -> str:
        return "reject" if self.score >= 1.0 else "review" if self.score >= 0.5 else "allow"


@lru_cache(maxsize=8)
def _load(path: str) -> tuple[re.Pattern[str], ...]:
    phrases = [line.strip().lower() for line in Path(path).read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    return tuple(re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, p.split())) + r"(?!\w)") for p in phrases)


def _normalise(text: str) -> str:
    lowered = text.lower()
    return lowered + "\n" + lowered.translate(_SWAPS)


def check_text(text: str, *, settings: Settings) -> TextVerdict:
    if not text.strip():
        return TextVerdict(0.0)
    normal = _normalise(text)
    matches: list[str] = []
    score = 0.0
    for pattern in _load(str(settings.moderation_reject_words_file or WORDLISTS / "reject.txt")):
        if pattern.search(normal):
            matches.append(f"reject:{pattern.pattern}")
            score = 1.0
    for pattern in _load(str(settings.moderation_review_words_file or WORDLISTS / "review.txt")):
        if pattern.search(normal):
            matches.append(f"review:{pattern.pattern}")
            score = max(score, 0.5)
    spam = _spam_signals(text)
    if spam:
        matches += spam
        score = max(score, 0.5 if len(spam) > 1 else 0.3)
    return TextVerdict(score, matches)


def _spam_signals(text: str) -> list[str]:
    signals = []
    if len(_URL.findall(text)) > 2:
        signals.append("spam:many-links")
    if len(_MENTION.findall(text)) > 10:
        signals.append("spam:many-mentions")
    if _RUN.search(text):
        signals.append("spam:repeated-characters")
    letters = [c for c in text if c.isalpha()]
    if len(letters) > 40 and sum(c.isupper() for c in letters) / len(letters) > 0.8:
        signals.append("spam:shouting")
    return signals
