"""Opaque cursors for ``?cursor=&limit=`` pagination.

A cursor is URL-safe base64 of a small JSON object; clients must treat it as opaque. A cursor
that does not decode is the client's mistake: 400, not 500.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from pydantic import BaseModel, Field

from clipfeed.core.errors import BadRequest

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


class PageParams(BaseModel):
    cursor: str | None = None
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
