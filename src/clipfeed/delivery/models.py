"""Pending edge purges (retried until every edge confirms) and the delivery API schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.core.text import OneLine
from clipfeed.infra.db import Base, UTCDateTime, utcnow


class Urgency(StrEnum):
    immediate = "immediate"  # takedowns: every edge of every region now, retried every few seconds
    soon = "soon"            # visibility changes, re-transcodes, renditions dropped: queued, seconds
    lazy = "lazy"            # cover edits: nothing purged; new ?v= URLs and short image TTLs


class PurgeTask(Base):
    """One edge's share of a purge. Written before any edge is called, so a purge survives the
    process that started it; done when that edge said so."""

    __tablename__ = "delivery_purges"
    __table_args__ = (sa.Index("ix_delivery_purges_pending", "done_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    purge_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    edge: Mapped[str] = mapped_column(sa.String(300))
    prefixes: Mapped[list[Any]] = mapped_column(sa.JSON, default=list)
    urgency: Mapped[str] = mapped_column(sa.String(10))
    reason: Mapped[str] = mapped_column(sa.String(200), default="")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    removed: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PurgeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clip_ids: list[str] = Field(min_length=1, max_length=100, description="clips whose media to purge")
    urgency: Urgency = Urgency.immediate
    reason: OneLine = Field(default="", max_length=200)


class PurgeResult(BaseModel):
    purge_id: str
    urgency: Urgency
    edges: int = Field(description="edge caches asked")
    confirmed: int = Field(description="edges that confirmed already")
    pending: int = Field(description="edges still being retried")
    removed: int = Field(description="cache entries removed so far")


class Rendition(BaseModel):
    name: str
    height: int
    bandwidth: int


class PlaybackInfo(BaseModel):
    """What a player needs to start a clip at once; URLs are absolute (edge or origin) and
    carry a signature in their path when the clip is not public."""

    clip_id: str
    media_base_url: str = Field(description="the edge (or origin) serving this clip")
    hls_url: str | None = Field(default=None, description="HLS master playlist (CMAF)")
    dash_url: str | None = None
    mp4_url: str | None = Field(default=None, description="progressive fallback")
    poster_url: str | None = None
    poster_jpeg_url: str | None = None
    sprite_vtt_url: str | None = None
    preview_url: str | None = None
    start_rendition: str | None = Field(default=None, description="rendition to start with, e.g. 360p")
    start_playlist_url: str | None = Field(default=None, description="media playlist of start_rendition")
    prefetch_urls: list[str] = Field(default_factory=list,
                                     description="poster, start playlist, init and first segment")
    renditions: list[Rendition] = Field(default_factory=list)
    signed: bool = False
    expires_at: datetime | None = None
