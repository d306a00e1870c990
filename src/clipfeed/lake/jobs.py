"""The batch jobs, defined once as SQL that DuckDB and Spark SQL both run unchanged.

Only the common dialect is used: ``CASE``, ``COALESCE``, ``COUNT(DISTINCT)``, ``CAST(... AS
BIGINT)`` (DuckDB would otherwise sum into 128-bit integers), window functions with numeric
``RANGE`` frames, and day strings stored in the files. Each engine registers the staged
Parquet files as ``events_raw``; ``DEDUPED`` turns that into ``events`` with one row per
event ID (compaction may have written an event twice). ``{from_day}``/``{to_day}`` bound
the output days (inclusive); training rows see up to ``HISTORY_DAYS`` earlier days.
"""

from __future__ import annotations

from datetime import date

HISTORY_DAYS = 7
WEEK_MS = 7 * 86400 * 1000
HOUR_MS = 3600 * 1000

DEDUPED = """
CREATE OR REPLACE TEMPORARY VIEW events AS
SELECT * FROM (
    SELECT r.*, ROW_NUMBER() OVER (PARTITION BY r.event_id ORDER BY r.received_ms, r.ts_ms) AS copy_no
    FROM events_raw r
) numbered
WHERE copy_no = 1
"""


def _count(condition: str) -> str:
    return f"CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) AS BIGINT)"


_CLIP_MEASURES = f"""
    MAX(creator_id) AS creator_id,
    {_count("type = 'impression'")} AS impressions,
    {_count("type = 'play_start'")} AS plays,
    COUNT(DISTINCT CASE WHEN type = 'play_start' THEN viewer END) AS views,
    {_count("type = 'complete'")} AS completes,
    {_count("type = 'skip'")} AS skips,
    CAST(SUM(COALESCE(watch_ms, 0)) AS BIGINT) AS watch_ms,
    CAST(SUM(CASE WHEN type = 'like.added' THEN 1 WHEN type = 'like.removed' THEN -1 ELSE 0 END) AS BIGINT) AS likes,
    {_count("type IN ('share', 'share.created')")} AS shares,
    CAST(SUM(CASE WHEN type = 'comment.created' THEN 1 WHEN type = 'comment.deleted' THEN -1 ELSE 0 END)
         AS BIGINT) AS comments"""

_IN_RANGE = "day BETWEEN '{from_day}' AND '{to_day}'"

CLIP_DAILY = f"""
SELECT clip_id, day, {_CLIP_MEASURES}
FROM events
WHERE clip_id IS NOT NULL AND {_IN_RANGE}
GROUP BY clip_id, day
"""

CLIP_HOURLY = f"""
SELECT clip_id, day, hour, {_CLIP_MEASURES}
FROM events
WHERE clip_id IS NOT NULL AND {_IN_RANGE}
GROUP BY clip_id, day, hour
"""


def _breakdown(dimension: str) -> str:
    value = f"COALESCE(NULLIF({dimension}, ''), 'unknown')"
    return f"""
SELECT clip_id, day, MAX(creator_id) AS creator_id, '{dimension}' AS dimension, {value} AS value,
       CAST(COUNT(*) AS BIGINT) AS plays, COUNT(DISTINCT viewer) AS viewers
FROM events
WHERE clip_id IS NOT NULL AND type = 'play_start' AND {_IN_RANGE}
GROUP BY clip_id, day, {value}"""


# Traffic sources, audience regions, devices and networks of plays.
CLIP_BREAKDOWN = "\nUNION ALL\n".join(_breakdown(d) for d in ("source", "region", "device", "network"))

# A play is a viewer's session on a clip; it reached the furthest position reported (the whole
# duration when it completed). The histogram of where plays stopped gives the retention curve.
CLIP_DROPOFF = """
SELECT clip_id, day, CAST(FLOOR(reach_ms / 1000) AS BIGINT) AS second, CAST(COUNT(*) AS BIGINT) AS plays
FROM (
    SELECT clip_id, MIN(day) AS day, viewer, session_id,
           MAX(CASE WHEN type = 'complete' THEN COALESCE(duration_ms, 0)
                    WHEN type IN ('skip', 'progress') THEN COALESCE(position_ms, 0)
                    ELSE 0 END) AS reach_ms
    FROM events
    WHERE clip_id IS NOT NULL AND type IN ('play_start', 'progress', 'skip', 'complete')
    GROUP BY clip_id, viewer, session_id
    HAVING SUM(CASE WHEN type = 'play_start' THEN 1 ELSE 0 END) > 0
) plays
WHERE """ + _IN_RANGE + """
GROUP BY clip_id, day, CAST(FLOOR(reach_ms / 1000) AS BIGINT)
"""

FOLLOWER_GROWTH = f"""
SELECT followee_id AS creator_id, day,
       {_count("type = 'follow.added'")} AS added,
       {_count("type = 'follow.removed'")} AS removed
FROM events
WHERE followee_id IS NOT NULL AND type IN ('follow.added', 'follow.removed') AND {_IN_RANGE}
GROUP BY followee_id, day
"""


def _past(condition: str, partition: str) -> str:
    """How many events matched before this one (strictly earlier) within a week."""
    return (f"COALESCE(CAST(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END) OVER (PARTITION BY {partition} "
            f"ORDER BY ts_ms RANGE BETWEEN {WEEK_MS} PRECEDING AND 1 PRECEDING) AS BIGINT), 0)")


def _next_hour(expression: str, aggregate: str = "MAX") -> str:
    """The outcome of an impression: the viewer's events on the clip within the next hour."""
    return (f"COALESCE(CAST({aggregate}({expression}) OVER (PARTITION BY viewer, clip_id ORDER BY ts_ms "
            f"RANGE BETWEEN CURRENT ROW AND {HOUR_MS} FOLLOWING) AS BIGINT), 0)")


ENGAGED = "type IN ('complete', 'like.added', 'share', 'share.created', 'comment.created')"

# One row per impression; features see only events before the impression (point-in-time
# correct), labels only the hour after it.
TRAINING_FEATURES = (
    ("viewer_plays_7d", _past("type = 'play_start'", "viewer")),
    ("viewer_completes_7d", _past("type = 'complete'", "viewer")),
    ("viewer_skips_7d", _past("type = 'skip'", "viewer")),
    ("viewer_likes_7d", _past("type = 'like.added'", "viewer")),
    ("viewer_creator_engagements_7d", _past(ENGAGED, "viewer, creator_id")),
    ("clip_impressions_7d", _past("type = 'impression'", "clip_id")),
    ("clip_plays_7d", _past("type = 'play_start'", "clip_id")),
    ("clip_completes_7d", _past("type = 'complete'", "clip_id")),
    ("clip_likes_7d", _past("type = 'like.added'", "clip_id")),
    ("clip_shares_7d", _past("type IN ('share', 'share.created')", "clip_id")),
)
TRAINING_LABELS = (
    ("label_complete", _next_hour("CASE WHEN type = 'complete' THEN 1 ELSE 0 END")),
    ("label_like", _next_hour("CASE WHEN type = 'like.added' THEN 1 ELSE 0 END")),
    ("label_share", _next_hour("CASE WHEN type IN ('share', 'share.created') THEN 1 ELSE 0 END")),
    ("label_watch_ms", _next_hour("COALESCE(watch_ms, 0)", "SUM")),
)
TRAINING_KEYS = ("impression_id", "day", "ts_ms", "viewer", "user_id", "clip_id", "creator_id", "source", "device",
                 "network", "region")

TRAINING = f"""
SELECT event_id AS impression_id, day, ts_ms, viewer, user_id, clip_id, creator_id, source, device, network,
       region, {", ".join(name for name, _ in TRAINING_FEATURES + TRAINING_LABELS)}
FROM (
    SELECT e.*, {", ".join(f"{sql} AS {name}" for name, sql in TRAINING_FEATURES + TRAINING_LABELS)}
    FROM events e
) scored
WHERE type = 'impression' AND clip_id IS NOT NULL AND {_IN_RANGE}
"""

JOBS: dict[str, str] = {
    "clip_daily": CLIP_DAILY, "clip_hourly": CLIP_HOURLY, "clip_breakdown": CLIP_BREAKDOWN,
    "clip_dropoff": CLIP_DROPOFF, "follower_growth": FOLLOWER_GROWTH, "training": TRAINING,
}
# Sort keys that make two engines' outputs comparable row by row.
ORDER: dict[str, tuple[str, ...]] = {
    "clip_daily": ("clip_id", "day"), "clip_hourly": ("clip_id", "day", "hour"),
    "clip_breakdown": ("clip_id", "day", "dimension", "value"), "clip_dropoff": ("clip_id", "day", "second"),
    "follower_growth": ("creator_id", "day"), "training": ("impression_id",),
}


def render(job: str, from_day: date, to_day: date) -> str:
    """A job's SQL for a range of days (dates, so nothing but digits and dashes goes in)."""
    return JOBS[job].replace("{from_day}", from_day.isoformat()).replace("{to_day}", to_day.isoformat())
