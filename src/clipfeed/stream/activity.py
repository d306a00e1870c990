"""Engagement events as the processors see them, decoded from the envelope.

Client playback events (``POST /v1/events``) and the social feature's server events (topic
``social``) are read into one flat shape. A record that cannot be read raises ``PoisonEvent``,
which sends it, after the processor's retries, to the dead-letter topic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
from pydantic import ValidationError

from clipfeed.core import contract
from clipfeed.core.viewers import ViewerId
from clipfeed.infra.log import Record

PLAYBACK_TYPES = frozenset(contract.PLAYBACK)
CLIP_SOCIAL_TYPES = frozenset({*(t.name for t in contract.ENGAGEMENT.values()), contract.COMMENT_CREATED.name,
                               contract.COMMENT_DELETED.name, contract.SHARE_CREATED.name})
FOLLOW_TYPES = frozenset({contract.FOLLOW_ADDED.name, contract.FOLLOW_REMOVED.name})
SOCIAL_TYPES = CLIP_SOCIAL_TYPES | FOLLOW_TYPES
# Events of the ``social`` topic that carry no engagement: the relay passes over them (blocks
# reach the recommender through its own consumer of ``social``).
NON_ENGAGEMENT_TYPES = frozenset({contract.BLOCK_ADDED.name, contract.BLOCK_REMOVED.name})


class PoisonEvent(ValueError):
    """A record that no retry can make readable."""


@dataclass(frozen=True, slots=True)
class Activity:
    id: int
    type: str
    ts: float                      # event time, epoch seconds (client time for playback)
    viewer: str                    # ``clipfeed.core.viewers``: "u:<user id>" or "d:<hash>"
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
    ended: bool = False            # playback ``progress``: the viewer left before the clip's end

    @property
    def day(self) -> int:
        """UTC day number of the event time (days since 1970-01-01)."""
        return int(self.ts // 86400)


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
    try:
        if kind in PLAYBACK_TYPES:
            played = contract.PLAYBACK[kind].parse_payload(payload)
            return Activity(
                id=event_id, type=kind, ts=ts, viewer=ViewerId.parse(played.viewer).key, user_id=played.user_id,
                clip_id=played.clip_id, region=region, session_id=played.session_id, device=played.device,
                network=played.network, source=played.source or "", watch_ms=played.watch_ms or 0,
                position_ms=played.position_ms, duration_ms=played.duration_ms, received_ms=played.received_ms,
                ended=played.ended)
        if kind in FOLLOW_TYPES:
            follow = contract.EVENT_TYPES[kind].parse_payload(payload)
            return Activity(id=event_id, type=kind, ts=ts, viewer=ViewerId.signed_in(follow.user_id).key,
                            user_id=follow.user_id,
                            clip_id=None, followee_id=follow.followee_id, region=region, received_ms=int(ts * 1000))
        if kind in CLIP_SOCIAL_TYPES:
            social = contract.EVENT_TYPES[kind].parse_payload(payload)
            return Activity(id=event_id, type=kind, ts=ts, viewer=ViewerId.signed_in(social.user_id).key,
                            user_id=social.user_id,
                            clip_id=social.clip_id, creator_id=social.creator_id,
                            comment_id=getattr(social, "comment_id", None), region=region,
                            received_ms=int(ts * 1000))
    except ValidationError as exc:
        raise PoisonEvent(f"{kind} payload: {exc.errors(include_url=False)[0]['msg']}") from exc
    except ValueError as exc:  # not a viewer
        raise PoisonEvent(f"{kind}: {exc}") from exc
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
