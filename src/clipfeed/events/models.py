"""Schemas of client events (``POST /v1/events``) and of the ingestion result."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from clipfeed.core.contract import PlaybackType
from clipfeed.core.identifiers import IdField

MAX_MS = 6 * 3600 * 1000  # no clip is longer than this; larger times are client bugs
SAFE_ID = r"^[A-Za-z0-9_.:-]{1,64}$"


class Network(StrEnum):
    wifi = "wifi"
    ethernet = "ethernet"
    cellular_5g = "cellular_5g"
    cellular_4g = "cellular_4g"
    cellular_3g = "3g"
    cellular_2g = "2g"
    unknown = "unknown"


class Device(StrEnum):
    ios = "ios"
    android = "android"
    web = "web"
    desktop = "desktop"
    tv = "tv"
    other = "other"


class Source(StrEnum):
    """Where the viewer found the clip (traffic sources in creator analytics)."""

    foryou = "foryou"
    following = "following"
    profile = "profile"
    search = "search"
    hashtag = "hashtag"
    share = "share"
    notification = "notification"
    other = "other"


# Fields each type may carry beyond the common ones; the first set must be present.
REQUIRED: dict[PlaybackType, set[str]] = {PlaybackType.progress: {"watch_ms"}, PlaybackType.skip: {"position_ms"}}
ALLOWED: dict[PlaybackType, set[str]] = {
    PlaybackType.progress: {"watch_ms", "position_ms", "duration_ms"},
    PlaybackType.complete: {"watch_ms", "duration_ms"},
    PlaybackType.skip: {"watch_ms", "position_ms", "duration_ms"},
    PlaybackType.play_start: {"duration_ms"},
    PlaybackType.replay: {"duration_ms"},
}
TIMINGS = ("watch_ms", "position_ms", "duration_ms")
Millis = Annotated[int, Field(ge=0, le=MAX_MS)]


class ClientEvent(BaseModel):
    """One playback event as a client reports it (docs/api/events.md lists each type's fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: str = Field(pattern=SAFE_ID, description="client-chosen unique ID (a UUID)")
    type: PlaybackType
    clip_id: IdField
    ts: datetime = Field(description="client time: ISO 8601 with a zone, or epoch milliseconds")
    session_id: str = Field(pattern=SAFE_ID)
    device: Device = Device.other
    network: Network = Network.unknown
    source: Source | None = None
    watch_ms: Millis | None = None
    position_ms: Millis | None = None
    duration_ms: Millis | None = None
    ended: bool | None = Field(default=None, description="progress only: true on the last report of a play the "
                               "viewer left before the clip's end (a later report is a heartbeat)")

    @field_validator("ts", mode="before")
    @classmethod
    def _epoch_ms(cls, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                return datetime.fromtimestamp(value / 1000, UTC)
            except (OverflowError, OSError, ValueError):
                # Say it in our words: the platform's message ("year 50000 is out of range",
                # "timestamp out of range for platform time_t") is no help to a client.
                raise ValueError("ts is not a plausible time in epoch milliseconds") from None
        return value

    @field_validator("ts")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("ts needs a time zone (e.g. a trailing Z)")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _fields_of_type(self) -> ClientEvent:
        present = {name for name in TIMINGS if getattr(self, name) is not None}
        missing = REQUIRED.get(self.type, set()) - present
        if missing:
            raise ValueError(f"{self.type.value} events need {', '.join(sorted(missing))}")
        extra = present - ALLOWED.get(self.type, set())
        if extra:
            raise ValueError(f"{self.type.value} events do not carry {', '.join(sorted(extra))}")
        if self.ended is not None and self.type != PlaybackType.progress:
            raise ValueError(f"{self.type.value} events do not carry ended")
        if self.type == PlaybackType.progress and not self.watch_ms:
            raise ValueError("progress events report a positive watch_ms")
        return self


class RejectedEvent(BaseModel):
    index: int = Field(description="position of the event in the batch")
    event_id: str | None = None
    reason: str = Field(description="invalid | clock_skew | too_old")
    detail: str


class IngestResult(BaseModel):
    accepted: int = Field(description="events published (new)")
    duplicates: int = Field(description="events already received (dropped, nothing to do)")
    rejected: list[RejectedEvent] = Field(default_factory=list, description="refused events; do not resend")
