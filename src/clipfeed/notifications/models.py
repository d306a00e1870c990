"""Notification tables and API schemas.

* ``notifications`` (sharded by recipient): the inbox. ``group_key`` is unique per recipient,
  which makes every write idempotent (a redelivered event finds its row) and lets likes of one
  clip within a time window share one row ("A and 12 others liked your clip").
* ``notification_actors`` (sharded by recipient): who is in an aggregated row, once each.
* ``notification_pull_marks`` (sharded by recipient): how far on-read fan-out has merged the
  announcements of big creators into this inbox.
* ``notification_mutes`` (main): the kinds a user turned off.
* ``creator_announcements`` (main): new clips of creators above the fan-out threshold, written
  once per clip instead of once per follower and merged into followers' inboxes on read.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db import Base, UTCDateTime, utcnow


class NotificationKind(StrEnum):
    follow = "follow"
    like = "like"
    comment = "comment"
    reply = "reply"
    mention = "mention"
    share = "share"
    new_clip = "new_clip"            # a creator you follow posted
    clip_ready = "clip_ready"        # your clip finished processing
    clip_rejected = "clip_rejected"  # your clip was not published
    clip_failed = "clip_failed"      # your clip could not be processed


class Notification(Base):
    __tablename__ = "notifications"
    __shard_key__ = "recipient_id"  # sharded: rows live on the database of this key's virtual shard
    __table_args__ = (sa.UniqueConstraint("recipient_id", "group_key", name="uq_notifications_recipient_group"),
                      sa.Index("ix_notifications_recipient_sort", "recipient_id", "sort_id"),
                      sa.Index("ix_notifications_recipient_read", "recipient_id", "read_at"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    recipient_id: Mapped[int] = mapped_column(sa.BigInteger)
    kind: Mapped[str] = mapped_column(sa.String(20))
    group_key: Mapped[str] = mapped_column(sa.String(120))
    # Time-ordered ID of the latest activity in the row: the inbox's order and its cursor.
    sort_id: Mapped[int] = mapped_column(sa.BigInteger)
    actor_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)  # newest first, at most 3
    actor_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    clip_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    comment_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class NotificationActor(Base):
    __tablename__ = "notification_actors"
    __shard_key__ = "recipient_id"  # sharded: rows live on the database of this key's virtual shard
    __table_args__ = (sa.Index("ix_notification_actors_recipient_id", "recipient_id"),)

    notification_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    actor_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    recipient_id: Mapped[int] = mapped_column(sa.BigInteger)


class PullMark(Base):
    __tablename__ = "notification_pull_marks"
    __shard_key__ = "user_id"  # sharded: rows live on the database of this key's virtual shard

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    pulled_through: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # announcement ID


class NotificationMute(Base):
    __tablename__ = "notification_mutes"

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(sa.String(20), primary_key=True)


class CreatorAnnouncement(Base):
    __tablename__ = "creator_announcements"
    __table_args__ = (sa.Index("ix_creator_announcements_creator_id_id", "creator_id", "id"),
                      sa.UniqueConstraint("clip_id", name="uq_creator_announcements_clip_id"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    creator_id: Mapped[int] = mapped_column(sa.BigInteger)
    clip_id: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- API schemas -------------------------------------------------------------------------

class Actor(BaseModel):
    id: str
    handle: str
    display_name: str
    avatar_url: str | None


class NotificationPublic(BaseModel):
    id: str
    kind: NotificationKind
    text: str = Field(examples=["mia and 12 others liked your clip"])
    read: bool
    actors: list[Actor] = Field(description="the most recent, at most 3")
    actor_count: int
    clip_id: str | None
    comment_id: str | None
    excerpt: str | None = Field(default=None, description="start of the comment, for comment kinds")
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class NotificationPage(BaseModel):
    items: list[NotificationPublic]
    next_cursor: str | None
    unread_count: int


class UnreadCount(BaseModel):
    unread_count: int


class ReadState(BaseModel):
    id: str | None = None
    read: bool = True
    unread_count: int


class Preferences(BaseModel):
    kinds: dict[NotificationKind, bool] = Field(description="false: that kind is not delivered")


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kinds: dict[NotificationKind, bool]
