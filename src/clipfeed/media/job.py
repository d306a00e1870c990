"""What a media job is: the job read from a ``media.uploaded`` event, and the processor base
every long media job shares (one record at a time, a lease from the settings, a heartbeat).

Below the pipeline, the chunk queue and the workers, which all build on these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from clipfeed.core import contract
from clipfeed.core.events import Event
from clipfeed.media import edits as edit_lists
from clipfeed.media.edits import EditList
from clipfeed.runtime.consumers import OneByOne


@dataclass(frozen=True)
class Job:
    event_id: int
    clip_id: int
    owner_id: int
    master_key: str
    edits: EditList
    source_url: str | None = None  # a remote clip's media, cached here (federation/media_cache.py)

    @classmethod
    def from_event(cls, event: Event) -> Job:
        """Raises ``ValueError`` for a payload no retry can fix (dead-lettered)."""
        payload = contract.MEDIA_UPLOADED.parse(event)
        clip_id, master = payload.clip_id, payload.master_key
        if not master.startswith(f"clips/{clip_id}/raw/"):
            raise ValueError(f"master {master!r} is not this clip's")
        edits = edit_lists.parse(payload.edits)
        edits.check_for_clip(clip_id)
        return cls(event.id, clip_id, payload.owner_id, master, edits, payload.source_url)


class LongJobProcessor(OneByOne):
    """One record at a time, lease from the settings, heartbeat, straight to backoff on failure."""

    shared: ClassVar[bool] = True
    batch_size: ClassVar[int] = 1
    retry_at_once: ClassVar[bool] = False
    max_deliveries: ClassVar[int] = 5

    def __post_init__(self) -> None:
        wait = float(self.services.settings.media_ack_wait_s)
        # Per-process values from the settings (class defaults stay as documented).
        setattr(self, "ack_wait", wait)  # noqa: B010
        setattr(self, "heartbeat", max(0.5, wait / 4))  # noqa: B010
