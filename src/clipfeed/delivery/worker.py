"""Delivery's event processor: takedowns and visibility changes purge the edges.

Consumes ``clips``: ``clip.deleted``, ``clip.rejected`` and ``clip.review`` (held) purge the
clip everywhere at once; ``clip.updated`` with a visibility change purges soon (an unlisted
clip made private must leave the unsigned and signed caches alike). Purging is idempotent, so
redelivered events only cost a repeated scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import orjson

from clipfeed.delivery import purge
from clipfeed.delivery.models import Urgency
from clipfeed.infra.log import Record
from clipfeed.runtime.consumers import Processor
from clipfeed.storage.layout import forget_layout
from clipfeed.storage.service import forget_tier

TAKEDOWNS = {"clip.deleted", "clip.rejected", "clip.review"}


def urgency_for(kind: str, payload: dict[str, object]) -> Urgency | None:
    if kind in TAKEDOWNS:
        return Urgency.immediate
    if kind == "clip.updated" and "visibility" in (payload.get("fields") or []):  # type: ignore[operator]
        return Urgency.soon
    return None


class PurgeProcessor(Processor):
    group: ClassVar[str] = "delivery-purge"
    topics: ClassVar[Sequence[str]] = ["clips"]

    async def handle(self, records: list[Record]) -> None:
        for record in records:
            await self.handle_one(record)

    async def handle_one(self, record: Record) -> None:
        try:
            envelope = orjson.loads(record.value)
            kind, payload = str(envelope.get("type")), envelope.get("payload") or {}
            clip_id = int(payload["clip_id"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return  # not a clip event we act on
        urgency = urgency_for(kind, payload)
        if urgency is None:
            return
        forget_tier(clip_id)
        await forget_layout(services=self.services, clip_id=clip_id)
        await purge.purge(services=self.services, prefixes=[f"clips/{clip_id}/"], urgency=urgency,
                          reason=kind)
