"""Tables the batch jobs fill (one row per clip and day, replaced whole by each run) and the
schemas of the creator analytics API."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db import Base


class ClipDaily(Base):
    __tablename__ = "analytics_clip_daily"
    __table_args__ = (sa.Index("ix_analytics_clip_daily_creator_day", "creator_id", "day"),)

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    creator_id: Mapped[int] = mapped_column(sa.BigInteger)
    impressions: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    plays: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    views: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    completes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    skips: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    watch_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    likes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    shares: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    comments: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ClipBreakdown(Base):
    """Plays and viewers of a clip and day by traffic source, region, device or network."""

    __tablename__ = "analytics_breakdown"
    __table_args__ = (sa.Index("ix_analytics_breakdown_creator_day", "creator_id", "day"),)

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    dimension: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    creator_id: Mapped[int] = mapped_column(sa.BigInteger)
    plays: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    viewers: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ClipDropoff(Base):
    """How many plays of a clip on a day stopped during each second (the retention curve)."""

    __tablename__ = "analytics_dropoff"

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    second: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    plays: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class FollowerDaily(Base):
    __tablename__ = "analytics_followers"

    creator_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    added: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    removed: Mapped[int] = mapped_column(sa.BigInteger, default=0)


# --- API ------------------------------------------------------------------------------

class DayStats(BaseModel):
    day: date
    views: int
    plays: int
    impressions: int
    completes: int
    watch_ms: int
    avg_watch_ms: float
    likes: int
    shares: int
    comments: int


class Share(BaseModel):
    name: str
    plays: int
    viewers: int
    share: float = Field(description="fraction of all plays in the period")


class FollowerDay(BaseModel):
    day: date
    added: int
    removed: int
    net: int


class RetentionPoint(BaseModel):
    second: int
    viewers: float = Field(description="fraction of plays still watching at this second")


class Totals(BaseModel):
    views: int
    plays: int
    impressions: int
    watch_ms: int
    avg_watch_ms: float
    completion_rate: float
    likes: int
    shares: int
    comments: int
    followers_added: int = 0
    followers_removed: int = 0


class Analytics(BaseModel):
    """Aggregates over ``from``..``to`` (UTC days, inclusive), as of the last batch run."""

    clip_id: str | None = None
    from_day: date = Field(alias="from")
    to_day: date = Field(alias="to")
    totals: Totals
    daily: list[DayStats]
    traffic_sources: list[Share]
    regions: list[Share]
    devices: list[Share]
    followers: list[FollowerDay] = Field(default_factory=list)
    retention: list[RetentionPoint] = Field(default_factory=list)

    model_config = {"populate_by_name": True}
