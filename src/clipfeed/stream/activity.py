"""Engagement events as the processors see them, decoded from the envelope.

Client playback events (``POST /v1/events``) and the social feature's server events (topic
``social``) are read into one flat shape. A record that cannot be read raises ``PoisonEvent``,
which sends it, after the processor's retries, to the dead-letter topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from clipfeed.infra.log import Record

PLAYBACK_TYPES = frozenset({"impression", "play_start", "progress", "complete", "replay", "skip", "share",
                            "not_interested"})
CLIP_SOCIAL_TYPES = frozenset({"like.added", "like.removed", "comment.created", "comment.deleted",
                               "share.created", "bookmark.added", "bookmark.removed"})
FOLLOW_TYPES = frozenset({"follow.added", "follow.removed"})
SOCIAL_TYPES = CLIP_SOCIAL_TYPES | FOLLOW_TYPES
# Events of the ``social`` topic that carry no engagement: the relay passes over them (blocks
# reach the recommender through its own consumer of ``social``).
NON_ENGAGEMENT_TYPES = frozenset({"block.added", "block.removed"})


class PoisonEvent(ValueError):
    """A record that no retry can make readable."""


@dataclass(frozen=True, slots=True)
class Activity:
    id: int
    type: str
    ts: float                      # event time, epoch seconds (client time for playback)
    viewer: str                    # "<user id>" or "anon:<device id>"
    user_id: int | None
    clip_id: int | None
    creator_id: int | None = None  # known for social events; looked up for playback ones
    region: str = ""
    session_id: str = ""
    device: str = ""
    network: str = ""
    source: str = ""
    watch_ms: int = 0
    position_ms: int | None = None
    duration_ms: int | None = None
    followee_id: int | None = None
    comment_id: int | None = None
    received_ms: int = 0

    @property
    def day(self) -> int:
        """UTC day number of the event time (days since 1970-01-01)."""
        return int(self.ts // 86400)


def _int(value: Any, name: str, *, required: bool = False) -> int | None:
    if value is None or value == "":
        if required:
            raise PoisonEvent(f"missing {name}")
        return None
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise PoisonEvent(f"{name} is not an integer: {value!r}") from exc
    if not 0 <= number < 2**63:
        raise PoisonEvent(f"{name} out of range: {number}")
    return number


def decode(raw: bytes) -> Activity:
    try:
        envelope = orjson.loads(raw)
        event_id = int(envelope["id"])
        kind = str(envelope["type"])
        ts = datetime.fromisoformat(envelope["occurred_at"]).timestamp()
        payload = envelope.get("payload") or {}
        if not isinstance(payload, dict):
            raise PoisonEvent("payload is not an object")
    except PoisonEvent:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PoisonEvent(f"not an event envelope: {exc}") from exc
    region = str(envelope.get("region") or "")
    if kind in PLAYBACK_TYPES:
        viewer = payload.get("viewer")
        if not isinstance(viewer, str) or not viewer:
            raise PoisonEvent("playback event without viewer")
        return Activity(
            id=event_id, type=kind, ts=ts, viewer=viewer, user_id=_int(payload.get("user_id"), "user_id"),
            clip_id=_int(payload.get("clip_id"), "clip_id", required=True), region=region,
            session_id=str(payload.get("session_id") or ""), device=str(payload.get("device") or ""),
            network=str(payload.get("network") or ""), source=str(payload.get("source") or ""),
            watch_ms=_int(payload.get("watch_ms"), "watch_ms") or 0,
            position_ms=_int(payload.get("position_ms"), "position_ms"),
            duration_ms=_int(payload.get("duration_ms"), "duration_ms"),
            received_ms=_int(payload.get("received_ms"), "received_ms") or 0)
    if kind in SOCIAL_TYPES:
        user_id = _int(payload.get("user_id"), "user_id", required=True)
        follow = kind in FOLLOW_TYPES
        return Activity(
            id=event_id, type=kind, ts=ts, viewer=str(user_id), user_id=user_id,
            clip_id=None if follow else _int(payload.get("clip_id"), "clip_id", required=True),
            creator_id=_int(payload.get("creator_id"), "creator_id", required=not follow),
            followee_id=_int(payload.get("followee_id"), "followee_id", required=follow),
            comment_id=_int(payload.get("comment_id"), "comment_id"), region=region,
            received_ms=int(ts * 1000))
    raise PoisonEvent(f"unknown event type {kind!r}")


def engagement_records(records: list[Record]) -> list[Record]:
    """The records of a ``social`` batch that are engagement, without the known others (blocks).
    An unreadable record is kept, so ``decode`` names it poison."""
    kept = []
    for record in records:
        try:
            kind = orjson.loads(record.value).get("type")
        except (orjson.JSONDecodeError, AttributeError):
            kind = None
        if kind not in NON_ENGAGEMENT_TYPES:
            kept.append(record)
    return kept


def decode_all(records: list[Record]) -> list[Activity]:
    """Every record of a batch, or ``PoisonEvent`` before anything was applied (the framework
    then retries record by record, so only the poison one ends in the dead-letter topic)."""
    return [decode(record.value) for record in records]
