"""The clip table and its API schemas."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.core.text import Paragraphs
from clipfeed.infra.db import Base, UTCDateTime, utcnow

MAX_CAPTION = 2200
MAX_HASHTAGS = 20
HASHTAG = re.compile(r"#(\w{1,50})", re.UNICODE)
TAG_TEXT = re.compile(r"^\w{1,50}$", re.UNICODE)


class Visibility(StrEnum):
    public = "public"      # in feeds, search, profiles
    unlisted = "unlisted"  # anyone with the link; never listed
    private = "private"    # the creator only


class ClipStatus(StrEnum):
    uploading = "uploading"
    processing = "processing"
    review = "review"          # held by screening or reports until a moderator decides
    ready = "ready"
    rejected = "rejected"
    failed = "failed"
    deleted = "deleted"


class Clip(Base):
    __tablename__ = "clips"
    __table_args__ = (sa.Index("ix_clips_owner_id_id", "owner_id", "id"),
                      sa.Index("ix_clips_status_id", "status", "id"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("users.id"))
    caption: Mapped[str] = mapped_column(sa.Text, default="")
    hashtags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    visibility: Mapped[str] = mapped_column(sa.String(10), default=Visibility.public.value)
    status: Mapped[str] = mapped_column(sa.String(12), default=ClipStatus.uploading.value)
    status_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    width: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    height: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    # Pointers into the object store: {"hls": key, "dash": key, "poster": key, ...}.
    media: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def hashtags_in(text: str) -> list[str]:
    return [m.lower() for m in HASHTAG.findall(text)]


def normalise_hashtags(tags: list[str], caption: str = "") -> list[str]:
    """Caption hashtags plus explicit ones, lowercased, without '#', de-duplicated in order."""
    out: list[str] = []
    for raw in [*hashtags_in(caption), *tags]:
        tag = raw.strip().lstrip("#").lower()
        if not TAG_TEXT.match(tag):
            raise ValueError(f"hashtag {raw!r}: letters, digits and '_' only, at most 50")
        if tag not in out:
            out.append(tag)
    if len(out) > MAX_HASHTAGS:
        raise ValueError(f"at most {MAX_HASHTAGS} hashtags")
    return out


class ClipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caption: Paragraphs = Field(default="", max_length=MAX_CAPTION)
    hashtags: list[str] = Field(default_factory=list, max_length=MAX_HASHTAGS)
    visibility: Visibility = Visibility.public


class ClipUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caption: Paragraphs | None = Field(default=None, max_length=MAX_CAPTION)
    hashtags: list[str] | None = Field(default=None, max_length=MAX_HASHTAGS)
    visibility: Visibility | None = None


class ClipPublic(BaseModel):
    id: str
    owner_id: str
    owner_handle: str | None = None
    owner_avatar_url: str | None = Field(None, description="the creator's avatar (absolute; in feed items), "
                                                           "null when they have none or the read does not carry it")
    caption: str
    hashtags: list[str]
    visibility: Visibility
    status: ClipStatus
    status_reason: str | None = None
    duration_ms: int | None = None
    width: int | None = None
    height: int | None = None
    media: dict[str, str] = Field(default_factory=dict, description="URLs of manifests and images")
    quality_flags: list[str] | None = Field(None, description=(
        "for the clip's owner only (null for everyone else): what processing noticed in the video, "
        "e.g. black, frozen, silent, no_audio, damaged_frames"))
    created_at: datetime
    published_at: datetime | None = None


class ClipPage(BaseModel):
    items: list[ClipPublic]
    next_cursor: str | None
