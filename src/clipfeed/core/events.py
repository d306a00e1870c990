"""The envelope every event travels in, server-side and client-side alike (versioned schema).

Topics and partition keys (the key decides the partition, so per-key order holds):

| topic | key | carries |
|---|---|---|
| ``clips`` | clip ID | clip lifecycle: created, updated, deleted |
| ``media.uploaded`` | clip ID | a finished upload to process (work queue) |
| ``media.progress`` | clip ID | processing progress for the status stream |
| ``users`` | user ID | account lifecycle: registered, deleted |

Later features add their topics to ``TOPICS`` with the same rules.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
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
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def decode(cls, raw: bytes) -> Event:
        return cls.model_validate_json(raw)
