"""Storing the batch jobs' aggregates and reading them back for one creator or clip."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from clipfeed.analytics.models import (
    Analytics,
    ClipBreakdown,
    ClipDaily,
    ClipDropoff,
    DayStats,
    FollowerDaily,
    FollowerDay,
    RetentionPoint,
    Share,
    Totals,
)
from clipfeed.infra.db import Database

DAILY_MEASURES = ("impressions", "plays", "views", "completes", "skips", "watch_ms", "likes", "shares", "comments")


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


async def replace_days(*, db: Database, from_day: date, to_day: date, daily: list[dict[str, Any]],
                       breakdown: list[dict[str, Any]], dropoff: list[dict[str, Any]],
                       followers: list[dict[str, Any]]) -> None:
    """Replace every aggregate of ``from_day``..``to_day`` in one transaction. Rows of clips
    whose creator is unknown (never in the catalog) are left out."""
    async with db.session() as session:
        for table in (ClipDaily, ClipBreakdown, ClipDropoff, FollowerDaily):
            await session.execute(sa.delete(table).where(table.day.between(from_day, to_day)))
        creators = {row["clip_id"]: row["creator_id"] for row in daily if row.get("creator_id") is not None}
        if daily_rows := [{"clip_id": r["clip_id"], "day": _day(r["day"]), "creator_id": r["creator_id"],
                           **{m: int(r[m] or 0) for m in DAILY_MEASURES}}
                          for r in daily if r.get("creator_id") is not None]:
            await session.execute(sa.insert(ClipDaily), daily_rows)
        if breakdown_rows := [{"clip_id": r["clip_id"], "day": _day(r["day"]), "dimension": r["dimension"],
                               "value": str(r["value"])[:40], "creator_id": r["creator_id"],
                               "plays": int(r["plays"]), "viewers": int(r["viewers"])}
                              for r in breakdown if r.get("creator_id") is not None]:
            await session.execute(sa.insert(ClipBreakdown), breakdown_rows)
        if dropoff_rows := [{"clip_id": r["clip_id"], "day": _day(r["day"]), "second": int(r["second"]),
                             "plays": int(r["plays"])} for r in dropoff if r["clip_id"] in creators]:
            await session.execute(sa.insert(ClipDropoff), dropoff_rows)
        if follower_rows := [{"creator_id": r["creator_id"], "day": _day(r["day"]), "added": int(r["added"]),
                              "removed": int(r["removed"])} for r in followers]:
            await session.execute(sa.insert(FollowerDaily), follower_rows)


async def analytics(*, db: Database, creator_id: int, from_day: date, to_day: date,
                    clip_id: int | None = None) -> Analytics:
    """A creator's aggregates (all their clips, or one clip with its retention curve)."""
    scope_daily = ClipDaily.clip_id == clip_id if clip_id is not None else ClipDaily.creator_id == creator_id
    scope_breakdown = (ClipBreakdown.clip_id == clip_id if clip_id is not None
                       else ClipBreakdown.creator_id == creator_id)
    async with db.session() as session:
        daily_rows = (await session.execute(
            sa.select(ClipDaily.day, *(sa.func.sum(getattr(ClipDaily, m)) for m in DAILY_MEASURES))
            .where(scope_daily, ClipDaily.creator_id == creator_id, ClipDaily.day.between(from_day, to_day))
            .group_by(ClipDaily.day))).all()
        breakdown_rows = (await session.execute(
            sa.select(ClipBreakdown.dimension, ClipBreakdown.value, sa.func.sum(ClipBreakdown.plays),
                      sa.func.sum(ClipBreakdown.viewers))
            .where(scope_breakdown, ClipBreakdown.creator_id == creator_id,
                   ClipBreakdown.day.between(from_day, to_day))
            .group_by(ClipBreakdown.dimension, ClipBreakdown.value))).all()
        follower_rows = [] if clip_id is not None else (await session.execute(
            sa.select(FollowerDaily.day, FollowerDaily.added, FollowerDaily.removed)
            .where(FollowerDaily.creator_id == creator_id, FollowerDaily.day.between(from_day, to_day))
            .order_by(FollowerDaily.day))).all()
        dropoff_rows = [] if clip_id is None else (await session.execute(
            sa.select(ClipDropoff.second, sa.func.sum(ClipDropoff.plays))
            .where(ClipDropoff.clip_id == clip_id, ClipDropoff.day.between(from_day, to_day))
            .group_by(ClipDropoff.second).order_by(ClipDropoff.second))).all()
    by_day = {_day(row[0]): dict(zip(DAILY_MEASURES, (int(v or 0) for v in row[1:]), strict=True))
              for row in daily_rows}
    daily = []
    # Counted, not stepped past ``to_day``: the day after 9999-12-31 does not exist.
    for offset in range((to_day - from_day).days + 1):
        day = from_day + timedelta(days=offset)
        values = by_day.get(day, dict.fromkeys(DAILY_MEASURES, 0))
        daily.append(DayStats(day=day, avg_watch_ms=values["watch_ms"] / values["plays"] if values["plays"] else 0.0,
                              **{k: v for k, v in values.items() if k != "skips"}))
    total = {m: sum(int(d.get(m, 0)) for d in by_day.values()) for m in DAILY_MEASURES}
    followers = [FollowerDay(day=_day(d), added=a, removed=r, net=a - r) for d, a, r in follower_rows]
    totals = Totals(
        views=total["views"], plays=total["plays"], impressions=total["impressions"], watch_ms=total["watch_ms"],
        avg_watch_ms=total["watch_ms"] / total["plays"] if total["plays"] else 0.0,
        completion_rate=min(1.0, total["completes"] / total["plays"]) if total["plays"] else 0.0,
        likes=total["likes"], shares=total["shares"], comments=total["comments"],
        followers_added=sum(f.added for f in followers), followers_removed=sum(f.removed for f in followers))
    return Analytics.model_validate({
        "clip_id": None if clip_id is None else str(clip_id), "from": from_day, "to": to_day, "totals": totals,
        "daily": daily, "followers": followers, "traffic_sources": _shares(breakdown_rows, "source"),
        "regions": _shares(breakdown_rows, "region"), "devices": _shares(breakdown_rows, "device"),
        "retention": _retention(dropoff_rows)})


def _shares(rows: Sequence[Any], dimension: str) -> list[Share]:
    mine = [(str(v), int(p or 0), int(w or 0)) for d, v, p, w in rows if d == dimension]
    plays = sum(p for _, p, _ in mine)
    return sorted((Share(name=n, plays=p, viewers=w, share=p / plays if plays else 0.0) for n, p, w in mine),
                  key=lambda s: (-s.plays, s.name))


def _retention(rows: Sequence[Any]) -> list[RetentionPoint]:
    """Fraction of plays still watching at each second, from where plays stopped."""
    stops = {int(second): int(plays or 0) for second, plays in rows}
    total = sum(stops.values())
    if not total:
        return []
    points, gone = [], 0
    for second in range(max(stops) + 1):
        points.append(RetentionPoint(second=second, viewers=(total - gone) / total))
        gone += stops.get(second, 0)
    return points
