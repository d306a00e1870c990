"""The one validator of text that users write and others read: display names, bios, captions,
comments, report notes, moderators' reasons, overlay texts, file names.

Refused: control characters (Unicode category Cc: C0, DEL and C1, with NUL among them, which
PostgreSQL cannot store in a text column), except newline and tab where several lines are
allowed; and the bidirectional embeddings, overrides and isolates (U+202A–U+202E,
U+2066–U+2069), with which a name can make the text after it read backwards. Then the text is
normalised to NFC (so one word has one spelling for search and comparison) and trimmed.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\n\t")


def clean_text(value: str, *, multiline: bool, required: bool = False) -> str:
    """``value`` checked, NFC-normalised and trimmed; ``ValueError`` (in words a user can act
    on) for a refused character, or for nothing left when ``required``."""
    for char in value:
        if char in _BIDI_CONTROLS:
            raise ValueError(f"the text contains a direction control character (U+{ord(char):04X})")
        if unicodedata.category(char) == "Cc" and not (multiline and char in _LINE_BREAKS):
            raise ValueError(f"the text contains a control character (U+{ord(char):04X})")
    value = unicodedata.normalize("NFC", value).strip()
    if required and not value:
        raise ValueError("the text is empty")
    return value


def scrub(value: str, *, multiline: bool, limit: int) -> str:
    """Text another server wrote (a remote display name, bio, caption or comment), made
    acceptable instead of refused, since nobody can be asked to fix it: the characters
    ``clean_text`` refuses dropped, normalised, trimmed and cut to ``limit`` characters."""
    kept = "".join(char for char in value if char not in _BIDI_CONTROLS and not (
        unicodedata.category(char) == "Cc" and not (multiline and char in _LINE_BREAKS)))
    return unicodedata.normalize("NFC", kept).strip()[:limit].strip()


def _one_line(value: str) -> str:
    return clean_text(value, multiline=False)


def _paragraphs(value: str) -> str:
    return clean_text(value, multiline=True)


def _required_paragraphs(value: str) -> str:
    return clean_text(value, multiline=True, required=True)


# What the OpenAPI document says of them (the validators above decide; these only describe).
_REFUSED = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"  # newline and tab aside
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*$"
PARAGRAPHS_PATTERN = rf"^[^{_REFUSED}]*$"
# With at least one character that is not white space, as trimming would leave nothing.
REQUIRED_PATTERN = rf"^[^{_REFUSED}]*\S[^{_REFUSED}]*$"

# Field types: length limits go beside them in Field(...), as usual.
OneLine = Annotated[str, AfterValidator(_one_line), Field(json_schema_extra={"pattern": ONE_LINE_PATTERN})]
Paragraphs = Annotated[str, AfterValidator(_paragraphs), Field(json_schema_extra={"pattern": PARAGRAPHS_PATTERN})]
RequiredParagraphs = Annotated[str, AfterValidator(_required_paragraphs),
                               Field(json_schema_extra={"pattern": REQUIRED_PATTERN})]
