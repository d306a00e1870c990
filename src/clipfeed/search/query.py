"""A search box's text, understood: plain words, ``"quoted phrases"``, ``#tags``, ``@handles``,
and whether the last word is still being typed (then it matches as a prefix)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from clipfeed.infra.search.text import fold, words

MAX_TERMS = 8
PHRASE = re.compile(r'"([^"]*)"')
TOKEN = re.compile(r"([#@]?)(\w+)", re.UNICODE)


@dataclass(frozen=True)
class ParsedQuery:
    terms: list[str] = field(default_factory=list)        # plain words, folded
    tags: list[str] = field(default_factory=list)         # after '#'
    handles: list[str] = field(default_factory=list)      # after '@'
    phrases: list[list[str]] = field(default_factory=list)  # each must appear in this order
    final: str | None = None                              # the last word, when still being typed
    text: str = ""                                        # the folded query, for the log

    @property
    def all_terms(self) -> list[str]:
        """Every word the engines should look for."""
        return list(dict.fromkeys([*self.terms, *self.tags, *self.handles]))

    @property
    def empty(self) -> bool:
        return not self.all_terms


def parse(text: str) -> ParsedQuery:
    text = text.strip()
    phrases = [ws for ws in (words(p) for p in PHRASE.findall(text)) if len(ws) > 1]
    terms: list[str] = []
    tags: list[str] = []
    handles: list[str] = []
    final: str | None = None
    for sigil, raw in TOKEN.findall(text.replace('"', " ")):
        word = fold(raw)
        target = tags if sigil == "#" else handles if sigil == "@" else terms
        if word not in target and len(terms) + len(tags) + len(handles) < MAX_TERMS:
            target.append(word)
        final = word
    # A word ending the box with no space or quote after it is still being typed.
    open_end = bool(text) and not text.endswith(('"', " "))
    return ParsedQuery(terms=terms, tags=tags, handles=handles, phrases=phrases,
                       text=" ".join(fold(text).split())[:100], final=final if open_end else None)
