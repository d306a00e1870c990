"""Delivery's event processor: takedowns and visibility changes purge the edges.

Consumes ``clips``: ``clip.deleted``, ``clip.rejected`` and ``clip.review`` (held) purge the
clip everywhere at once; ``clip.updated`` with a visibility change purges soon (an unlisted
clip made private must leave the unsigned and signed caches alike). Purging is idempotent, so
redelivered events only cost a repeated scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from clipfeed.core import contract
from clipfeed.core.events import Event
from clipfeed.delivery import purge
from clipfeed.delivery.models import Urgency
from clipfeed.infra.log import Record
from clipfeed.runtime.consumers import OneByOne
from clipfeed.storage.layout import forget_layout
from clipfeed.storage.service import forget_tier

TAKEDOWNS = frozenset(t.name for t in (contract.CLIP_DELETED, contract.CLIP_REJECTED, contract.CLIP_STATUS["review"]))


def urgency_for(event: Event) -> Urgency | None:
    if event.type in TAKEDOWNS:
        return Urgency.immediate
    if event.type == contract.CLIP_UPDATED.name and "visibility" in contract.CLIP_UPDATED.parse(event).fields:
        return Urgency.soon
    return None


class PurgeProcessor(OneByOne):
    group: ClassVar[str] = "delivery-purge"
    topics: ClassVar[Sequence[str]] = [contract.Topic.CLIPS]

    async def handle_one(self, record: Record) -> None:
        try:
            event = Event.decode(record.value)
            urgency = urgency_for(event)
            if urgency is None:
                return
            clip = contract.parse(event)
        except ValueError:
            return  # not a clip event we act on
        if not isinstance(clip, contract.ClipChanged | contract.ClipDeleted):
            return
        clip_id = clip.clip_id
        forget_tier(clip_id)
        await forget_layout(services=self.services, clip_id=clip_id)
        await purge.purge(services=self.services, prefixes=[f"clips/{clip_id}/"], urgency=urgency,
                          reason=event.type)
