"""Keyset pages: fetch ``limit + 1`` rows, keep ``limit``, point the cursor at the last one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from clipfeed.core.errors import BadRequest
from clipfeed.core.pagination import encode_cursor

T = TypeVar("T")


def keyset_page(rows: Sequence[T], limit: int, position: Callable[[T], dict[str, Any]]) -> tuple[list[T], str | None]:
    """The page and the cursor after its last row (None on the last page)."""
    page = list(rows[:limit])
    return page, encode_cursor(position(page[-1])) if len(rows) > limit and page else None


def cursor_int(position: dict[str, Any], key: str) -> int:
    """A number out of a decoded cursor; a tampered cursor is the client's mistake (400)."""
    try:
        return int(str(position[key]))
    except (KeyError, ValueError) as exc:
        raise BadRequest("the cursor is not one this API handed out") from exc
