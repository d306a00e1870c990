"""The envelope every event travels in, server-side and client-side alike (versioned schema).

The topics, the event types and each type's payload are in ``clipfeed.core.contract``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1


class Event(BaseModel):
    """``id`` is unique per event (consumers deduplicate by it); ``key`` picks the partition."""

    model_config = ConfigDict(frozen=True)

    id: int
    type: str
    version: int = SCHEMA_VERSION
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    key: str
    actor_id: int | None = None
    region: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    def encode(self) -> bytes:
        # pydantic's own JSON writer: the same bytes as orjson over model_dump(mode="json"),
        # without the intermediate dicts (every producer's events pass through here).
        return self.model_dump_json().encode()

    @classmethod
    def decode(cls, raw: bytes) -> Event:
        return cls.model_validate_json(raw)
