"""What the API accepts as an ID, wherever one arrives: path, query, header, body, upload
metadata or cursor.

One rule for all of them: ASCII digits only (``str.isdigit`` also accepts ``²`` and ``٣``,
which ``int()`` then refuses), and ``1 ≤ id < 2**63`` so the value fits the signed BIGINT
columns of SQLite and PostgreSQL. Anything else is the client's mistake, reported as a 4xx by
whoever calls this, never an ``OverflowError`` or ``bigint out of range`` from the driver.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

MAX_ID = (1 << 63) - 1
# [0-9] rather than \d: Python's \d matches every Unicode decimal digit.
_DIGITS = re.compile(r"[0-9]{1,19}")
# For the OpenAPI document: what ``parse_id`` accepts, up to 8999999999999999999 (a pattern
# cannot say "below 2**63"; IDs made now have 18 digits).
ID_DIGITS = r"(?:[1-9][0-9]{0,17}|[1-8][0-9]{18})"
ID_PATTERN = rf"^{ID_DIGITS}$"
# A user reference in a path: an ID, ``@handle``, or a handle with at least one non-digit.
USER_REF_PATTERN = rf"^(?:{ID_DIGITS}|@[A-Za-z0-9_.]{{1,30}}|[A-Za-z0-9_.]*[A-Za-z_.][A-Za-z0-9_.]*)$"


def parse_id(value: object) -> int:
    """``value`` (text of ASCII digits, or a JSON integer) as an ID; ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError("an ID is a number, not true or false")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise ValueError("an ID is 1 to 19 ASCII digits")
    if not 1 <= number <= MAX_ID:
        raise ValueError(f"an ID is between 1 and {MAX_ID}")
    return number


def id_or_none(value: object) -> int | None:
    """``parse_id`` for callers that answer 404 to anything that is not an ID."""
    try:
        return parse_id(value)
    except ValueError:
        return None


def parse_count(text: str, *, max_digits: int = 19) -> int:
    """A non-negative integer written in ASCII digits (sizes, offsets, counts), below 2**63;
    ``ValueError`` otherwise."""
    if not re.fullmatch(rf"[0-9]{{1,{max_digits}}}", text):
        raise ValueError("a count is ASCII digits")
    number = int(text)
    if number > MAX_ID:
        raise ValueError(f"a count is at most {MAX_ID}")
    return number


def parse_user_ref(text: str) -> int | str:
    """A user reference: an ID (digits only), or a handle, optionally written ``@handle``.
    A string of digits is always an ID, so a handle made of digits is written ``@123``."""
    ref = text.strip()
    if ref.isdigit():  # any Unicode digits: ASCII ones must be a valid ID, others are refused
        return parse_id(ref)
    handle = ref.removeprefix("@")
    if not handle:
        raise ValueError("a user reference is an ID or a handle")
    return handle


def _id_text(value: object) -> str:
    return str(parse_id(value))


# Body fields: clients send IDs as strings (JavaScript numbers lose precision above 2**53),
# and the schema says so; the value reaching the service is an int.
IdField = Annotated[int, BeforeValidator(parse_id),
                    WithJsonSchema({"type": "string", "pattern": ID_PATTERN, "description": "ID"})]
# The same check for fields whose services keep the ID as text.
IdText = Annotated[str, BeforeValidator(_id_text),
                   WithJsonSchema({"type": "string", "pattern": ID_PATTERN, "description": "ID"})]
