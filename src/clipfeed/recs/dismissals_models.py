"""Schemas of the viewer's own dismissals, listed so they can be taken back (``GET
/v1/me/hidden-creators``, ``GET /v1/me/not-interested``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from clipfeed.accounts.models import UserPublic
from clipfeed.clips.models import ClipPublic


class HiddenCreator(BaseModel):
    user: UserPublic
    since: datetime = Field(description="when the viewer hid them (or last hid them again)")
    until: datetime = Field(description="For You leaves their clips out until then")


class HiddenCreatorPage(BaseModel):
    items: list[HiddenCreator]
    next_cursor: str | None


class NotInterestedClip(BaseModel):
    clip: ClipPublic
    since: datetime = Field(description="when the viewer said they were not interested")
    until: datetime = Field(description="For You leaves the clip out until then")


class NotInterestedPage(BaseModel):
    items: list[NotInterestedClip]
    next_cursor: str | None
