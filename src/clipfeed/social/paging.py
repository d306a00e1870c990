"""Keyset pages: fetch ``limit + 1`` rows, keep ``limit``, point the cursor at the last one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from clipfeed.core.pagination import encode_cursor

T = TypeVar("T")


def keyset_page(rows: Sequence[T], limit: int, position: Callable[[T], dict[str, Any]]) -> tuple[list[T], str | None]:
    """The page and the cursor after its last row (None on the last page)."""
    page = list(rows[:limit])
    return page, encode_cursor(position(page[-1])) if len(rows) > limit and page else None
