"""Where lake files live in the object store, and the schema of the event files.

    lake/events/dt=YYYY-MM-DD/hh=HH/part-<first received ms>-<random>.parquet
    lake/training/dt=YYYY-MM-DD/part-0.parquet          (one row per impression)
    lake/aggregates/clip_hourly/dt=YYYY-MM-DD/part-0.parquet

Event files hold the day and hour of the event time as columns too (``day``, ``hour``), so
jobs need no engine-specific date functions.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa

EVENTS_PREFIX = "lake/events/"
TRAINING_PREFIX = "lake/training/"
AGGREGATES_PREFIX = "lake/aggregates/"

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.int64()), ("type", pa.string()), ("ts_ms", pa.int64()), ("day", pa.string()),
    ("hour", pa.int32()), ("received_ms", pa.int64()), ("viewer", pa.string()), ("user_id", pa.int64()),
    ("clip_id", pa.int64()), ("creator_id", pa.int64()), ("session_id", pa.string()), ("device", pa.string()),
    ("network", pa.string()), ("source", pa.string()), ("region", pa.string()), ("watch_ms", pa.int64()),
    ("position_ms", pa.int64()), ("duration_ms", pa.int64()), ("followee_id", pa.int64()),
    ("comment_id", pa.int64()),
])


def day_prefix(day: date) -> str:
    return f"{EVENTS_PREFIX}dt={day.isoformat()}/"


def part_key(day: str, hour: int, name: str) -> str:
    return f"{EVENTS_PREFIX}dt={day}/hh={hour:02d}/{name}.parquet"


def output_key(prefix: str, day: str) -> str:
    return f"{prefix}dt={day}/part-0.parquet"
