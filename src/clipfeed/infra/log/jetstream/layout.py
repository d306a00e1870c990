"""How the event log maps onto JetStream: names, subjects, headers and consumer positions.

Shared by the log and its consumers so both agree on every name.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from nats.aio.msg import Msg
from nats.js import api

from clipfeed.infra.log import Record, TopicSpec

KEY_HEADER = "Clipfeed-Key"


@dataclass(frozen=True)
class StreamRef:
    topic: str
    stream: str
    partitions: int
    subject_prefix: str  # "<prefix>.<topic>", a partition number completes it

    def subject(self, partition: int) -> str:
        return f"{self.subject_prefix}.{partition}"


def shared_consumer(group: str) -> str:
    return group


def partition_consumer(group: str, partition: int) -> str:
    # '~' cannot appear in a group name, so no shared group's consumer can collide with these.
    return f"{group}~p{partition}"


def to_record(topic: str, msg: Msg) -> Record:
    meta = msg.metadata
    headers = {k: v for k, v in (msg.headers or {}).items() if not str(k).startswith("Nats-")}
    encoded_key = headers.pop(KEY_HEADER, None)
    return Record(topic=topic, partition=int(msg.subject.rsplit(".", 1)[1]), offset=meta.sequence.stream,
                  timestamp=meta.timestamp, key=None if encoded_key is None else base64.b64decode(encoded_key),
                  value=msg.data, headers=headers, delivery_count=meta.num_delivered)


def start_config(offset: int | None, at: datetime | None, **fields: object) -> api.ConsumerConfig:
    """A consumer config starting at a stream sequence, a time, or the first retained record."""
    if at is not None:
        return api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_TIME, opt_start_time=at,
                                  **fields)  # type: ignore[arg-type]
    if offset is not None and offset > 1:
        return api.ConsumerConfig(deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=offset,
                                  **fields)  # type: ignore[arg-type]
    return api.ConsumerConfig(deliver_policy=api.DeliverPolicy.ALL, **fields)  # type: ignore[arg-type]


def first_unacked(info: api.ConsumerInfo, first_retained: int) -> int:
    """A consumer's committed offset: above its ack floor, everything delivered when nothing is
    pending, and never below where it was told to start."""
    floor = info.ack_floor.stream_seq if info.ack_floor else 0
    if not info.num_ack_pending and info.delivered:
        floor = max(floor, info.delivered.stream_seq)
    if info.config.opt_start_seq:
        floor = max(floor, info.config.opt_start_seq - 1)
    return max(first_retained, floor + 1)


def max_age_seconds(spec: TopicSpec) -> float:
    return 0.0 if spec.max_age is None else spec.max_age.total_seconds()


def encode_headers(key: bytes | None, headers: dict[str, str] | None) -> dict[str, str] | None:
    if key is None and not headers:
        return None
    out = dict(headers or {})
    if key is not None:
        out[KEY_HEADER] = base64.b64encode(key).decode()
    return out
