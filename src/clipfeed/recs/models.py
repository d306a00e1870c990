"""The feed's tables (onboarding interests, "not interested" and hidden creators) and its API
schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.clips.models import TAG_TEXT, ClipPublic
from clipfeed.delivery.models import PlaybackInfo
from clipfeed.infra.db import Base, UTCDateTime, utcnow
from clipfeed.social.schemas import Engagement

MAX_INTERESTS = 30


class ViewerInterests(Base):
    """Hashtags a viewer picked at onboarding (a cold-start source). Sharded by user ID: no
    foreign key to ``users``; the row goes with the account's ``user.deleted`` event."""

    __tablename__ = "recs_interests"
    __shard_key__ = "user_id"  # sharded: rows live on the database of this key's virtual shard

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hashtags: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Dismissal(Base):
    """A viewer's explicit negative feedback, honoured by For You until ``expires_at``: a clip
    they are not interested in (``kind`` "clip") or a creator they hid ("creator"). Sharded by
    user ID like the interests: no foreign keys; an expired row is ignored, and replaced by the
    next dismissal of the same subject."""

    __tablename__ = "recs_dismissals"
    __shard_key__ = "user_id"  # sharded: rows live on the database of this key's virtual shard

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    subject_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NotInterestedState(BaseModel):
    clip_id: str
    not_interested: bool
    until: datetime | None = Field(description="For You leaves the clip out until then")


class HiddenCreatorState(BaseModel):
    user_id: str
    hidden: bool
    until: datetime | None = Field(description="For You leaves the creator's clips out until then")


class FeedTab(StrEnum):
    foryou = "foryou"
    following = "following"
    hashtags = "hashtags"  # clips of the hashtags the viewer follows


class InterestsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashtags: list[str] = Field(max_length=MAX_INTERESTS, examples=[["cooking", "skate"]])

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        out: list[str] = []
        for raw in value:
            tag = raw.strip().lstrip("#").lower()
            if not TAG_TEXT.match(tag):
                raise ValueError(f"hashtag {raw!r}: letters, digits and '_' only, at most 50")
            if tag not in out:
                out.append(tag)
        return out


class InterestsPublic(BaseModel):
    hashtags: list[str]


class FeedItem(BaseModel):
    clip: ClipPublic
    playback: PlaybackInfo | None = Field(description="fast start: poster, playlists, start rendition, prefetch")
    source: str = Field(description="the candidate source that brought this clip")
    reason: str = Field(description="personal | trending | discovery | following")
    position: int
    engagement: Engagement | None = Field(
        default=None, description="with include=engagement: counts (eventual) and the viewer's own flags, as "
                                  "GET /v1/clips/{id}/engagement answers")


class FeedPage(BaseModel):
    items: list[FeedItem]
    next_cursor: str | None
    served_by: str = Field(description="buffer | reranked | on_demand | cold_start | chronological | degraded "
                                       "(the cache is unreachable: the newest clips, not personalised)")
    model: str
    experiment: dict[str, str] = Field(default_factory=dict)
