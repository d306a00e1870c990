"""Where each part of a clip lives: one row per (clip, part), no row meaning "hot"."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db import Base, UTCDateTime, utcnow


class Tier(StrEnum):
    hot = "hot"
    warm = "warm"
    cold = "cold"


class Part(StrEnum):
    media = "media"  # everything under clips/{id}/ but raw/: what the origin serves
    raw = "raw"      # clips/{id}/raw/: the uploaded master, never served


def part_prefix(clip_id: int, part: Part) -> str:
    return f"clips/{clip_id}/raw/" if part is Part.raw else f"clips/{clip_id}/"


def part_of(key: str) -> Part:
    return Part.raw if key.split("/")[2:3] == ["raw"] else Part.media


class StoredPart(Base):
    """``moving_to`` is set while a copy-verify-delete move runs: reads keep going to ``tier``
    until the move commits, and a run killed half-way is resumed from this mark."""

    __tablename__ = "storage_parts"

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    part: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    prefix: Mapped[str] = mapped_column(sa.String(64))
    tier: Mapped[str] = mapped_column(sa.String(8), default=Tier.hot.value)
    moving_to: Mapped[str | None] = mapped_column(sa.String(8), nullable=True, index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # entered ``tier``
    objects: Mapped[int] = mapped_column(sa.Integer, default=0)
    bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Renditions dropped in the cold tier (re-transcoded when the clip is popular again).
    dropped: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    dropped_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    views_total: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    views_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    views_per_day: Mapped[float] = mapped_column(sa.Float, default=0.0)
    restore_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
