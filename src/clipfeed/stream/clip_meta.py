"""What the stream needs to know about clips (creator, hashtags, liveness), kept in the cache
from the ``clips`` topic, with the clips feature's table as the fallback.

Keys: ``meta:clip:{clip_id}`` (JSON: owner_id, hashtags, status, visibility, v = event ID of the
last change applied) and the sorted set ``clips:live`` (ready public clips, by publication
time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from clipfeed.clips import service as clips_service
from clipfeed.core.contract import ClipChanged, ClipDeleted

if TYPE_CHECKING:
    from clipfeed.runtime.services import Services

META_TTL_S = 7 * 86400
LIVE_KEY = "clips:live"


def meta_key(clip_id: int) -> str:
    return f"meta:clip:{clip_id}"


@dataclass(frozen=True)
class ClipMeta:
    clip_id: int
    owner_id: int
    hashtags: tuple[str, ...]
    status: str
    visibility: str
    version: int = 0

    @property
    def live(self) -> bool:
        """Listed anywhere (trending, feeds): ready and public."""
        return self.status == "ready" and self.visibility == "public"

    def encode(self) -> bytes:
        return orjson.dumps({"owner_id": self.owner_id, "hashtags": list(self.hashtags), "status": self.status,
                             "visibility": self.visibility, "v": self.version})

    @classmethod
    def decode(cls, clip_id: int, raw: bytes) -> ClipMeta:
        data = orjson.loads(raw)
        return cls(clip_id, int(data["owner_id"]), tuple(data["hashtags"]), data["status"], data["visibility"],
                   int(data.get("v", 0)))


async def clip_meta(clip_ids: list[int] | set[int], *, services: Services) -> dict[int, ClipMeta]:
    """Metadata of the clips that exist (cache first, then the clips table, written back)."""
    wanted = sorted(set(clip_ids))
    if not wanted:
        return {}
    found: dict[int, ClipMeta] = {}
    for clip_id, raw in zip(wanted, await services.cache.get_many([meta_key(c) for c in wanted]), strict=True):
        if raw is not None:
            found[clip_id] = ClipMeta.decode(clip_id, raw)
    missing = [c for c in wanted if c not in found]
    if missing:
        clips = await clips_service.get_many(db=services.db, clip_ids=missing)
        fetched = {c.id: ClipMeta(c.id, c.owner_id, tuple(c.hashtags or ()), c.status, c.visibility)
                   for c in clips.values()}
        if fetched:
            await services.cache.set_many({meta_key(c): m.encode() for c, m in fetched.items()}, ttl=META_TTL_S)
        found.update(fetched)
    return found


async def apply_clip_events(events: list[tuple[int, ClipChanged | ClipDeleted]], *, services: Services) -> None:
    """Apply ``(event id, payload)`` of the ``clips`` topic; older changes than the one
    stored are ignored, so redelivery and replays are harmless."""
    latest: dict[int, tuple[int, ClipChanged | ClipDeleted]] = {}
    for event_id, payload in events:
        clip_id = payload.clip_id
        if clip_id not in latest or latest[clip_id][0] < event_id:
            latest[clip_id] = (event_id, payload)
    stored = await services.cache.get_many([meta_key(c) for c in latest])
    updates: dict[str, bytes] = {}
    live: dict[str, float] = {}
    gone: list[str] = []
    for (clip_id, (event_id, payload)), raw in zip(latest.items(), stored, strict=True):
        if raw is not None and ClipMeta.decode(clip_id, raw).version >= event_id:
            continue
        old = ClipMeta.decode(clip_id, raw) if raw is not None else None
        if isinstance(payload, ClipDeleted):
            meta = ClipMeta(clip_id, payload.owner_id, (), "deleted", old.visibility if old else "private", event_id)
        else:
            meta = ClipMeta(clip_id, payload.owner_id, tuple(payload.hashtags or (old.hashtags if old else ())),
                            payload.status, payload.visibility, event_id)
        updates[meta_key(clip_id)] = meta.encode()
        if meta.live:
            live[str(clip_id)] = event_id / 1.0  # IDs are time-ordered: newest last
        else:
            gone.append(str(clip_id))
    await services.cache.set_many(updates, ttl=META_TTL_S)
    if live:
        await services.cache.zadd(LIVE_KEY, live)
    if gone:
        await services.cache.zrem(LIVE_KEY, *gone)
