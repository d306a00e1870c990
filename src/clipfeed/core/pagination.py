"""Opaque cursors for ``?cursor=&limit=`` pagination.

A cursor is URL-safe base64 of a small JSON object; clients must treat it as opaque. A cursor
that does not decode is the client's mistake: 400, not 500.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import sqlalchemy as sa

from clipfeed.core.errors import BadRequest
from clipfeed.core.identifiers import parse_count

if TYPE_CHECKING:
    from clipfeed.infra.db import Database

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def encode_cursor(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(position)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest("the cursor is not one this API handed out") from exc
    if not isinstance(value, dict):
        raise BadRequest("the cursor is not one this API handed out")
    return value


def keyset_page(rows: Sequence[T], limit: int, position: Callable[[T], dict[str, Any]]) -> tuple[list[T], str | None]:
    """Keyset pages: given ``limit + 1`` rows, the page of ``limit`` and the cursor after its
    last row (None on the last page)."""
    page = list(rows[:limit])
    return page, encode_cursor(position(page[-1])) if len(rows) > limit and page else None


def cursor_int(position: dict[str, Any], key: str) -> int:
    """A number out of a decoded cursor; a tampered cursor is the client's mistake (400), and
    so is one whose number does not fit a BIGINT column (the driver would raise, not answer)."""
    try:
        return parse_count(str(position[key]))
    except (KeyError, ValueError) as exc:
        raise BadRequest("the cursor is not one this API handed out") from exc


def cursor_float(position: dict[str, Any], key: str, default: float) -> float:
    """A finite number (a score, a time) out of a decoded cursor, or ``default`` if absent."""
    if key not in position:
        return default
    value = position[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest("the cursor is not one this API handed out")
    return float(value)


async def id_page(db: Database, query: sa.Select[Any], id_column: Any, *, cursor: str | None, limit: int,
                  newest_first: bool = True) -> tuple[list[Any], str | None]:
    """One page of ``query``'s rows ordered by a unique ID column, newest (or oldest) first,
    with the cursor of the next page."""
    position = decode_cursor(cursor)
    key = "before" if newest_first else "after"
    if key in position:
        bound = cursor_int(position, key)
        query = query.where(id_column < bound if newest_first else id_column > bound)
    order = id_column.desc() if newest_first else id_column
    async with db.read_session() as session:
        rows = list((await session.scalars(query.order_by(order).limit(limit + 1))).all())
    return keyset_page(rows, limit, lambda row: {key: str(getattr(row, id_column.key))})
