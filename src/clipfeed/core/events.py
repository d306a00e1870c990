"""The envelope every event travels in, server-side and client-side alike (versioned schema).

Topics and partition keys (the key decides the partition, so per-key order holds):

| topic | key | carries |
|---|---|---|
| ``clips`` | clip ID | clip lifecycle: created, updated, deleted |
| ``media.uploaded`` | clip ID | a finished upload to process (work queue; fields below) |
| ``media.progress`` | clip ID | processing progress for the status stream |
| ``media.results`` | clip ID | end of a media job: media.ready, media.held (review), media.rejected, media.failed |
| ``media.chunks`` | clip ID | chunks of a long clip to encode (work queue shared by media workers) |
| ``users`` | user ID | account lifecycle: registered, deleted |
| ``activity.clips`` | clip ID | playback events of ``POST /v1/events`` + clip-targeted ``social`` events |
| ``activity.users`` | user ID / ``anon:<device>`` | the same playback events + every ``social`` event |
| ``social`` | clip ID; followee (follows); blocked (blocks) | likes, comments, shares, bookmarks, follows, blocks |
| ``notifications`` | recipient user ID | ``notification.created``/``.updated``: live signal for SSE |
| ``moderation`` | subject ID (blocklist: entry ID) | case opened/approved/rejected; blocklist_added/removed |
| ``dlq.<group>`` | as the source | records a processor gave up on (``error`` header) |
| ``media.retranscode`` | clip ID | a cold clip popular again: re-create its dropped renditions (storage lifecycle) |

``media.uploaded`` carries clip_id, owner_id, master_key, filename, size, sha256, edits, upload_id.

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
