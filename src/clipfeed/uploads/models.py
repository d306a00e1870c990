"""The upload table (tus upload state) and the API schemas of uploads and processing status."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db import Base, UTCDateTime, utcnow


class UploadKind(StrEnum):
    single = "single"    # an ordinary upload: becomes a clip when its last byte arrives
    partial = "partial"  # one piece of a parallel upload (tus concatenation), never a clip itself
    final = "final"      # the concatenation of partial uploads: becomes a clip at creation


class UploadState(StrEnum):
    receiving = "receiving"    # accepting bytes (or its last byte arrived and hand-off is pending)
    complete = "complete"      # handed off (single/final) or all bytes in (partial)
    rejected = "rejected"      # the file failed validation; only this record and its reason remain
    expired = "expired"        # unfinished past its expiry; bytes removed, record kept a while
    terminated = "terminated"  # deleted by its owner (tus termination); row goes once bytes are gone


class Upload(Base):
    """A directory table: one row per tus upload, in the main database.

    ``storage`` holds what the storage adapter needs to find the bytes again after a restart
    (multipart upload ID, stored parts and their ETags, the pending tail's blob key and size)."""

    __tablename__ = "uploads"
    __table_args__ = (sa.Index("ix_uploads_owner_id_state", "owner_id", "state"),
                      sa.Index("ix_uploads_state_expires_at", "state", "expires_at"),
                      sa.Index("ix_uploads_clip_id", "clip_id"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    owner_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(sa.String(8), default=UploadKind.single.value)
    state: Mapped[str] = mapped_column(sa.String(12), default=UploadState.receiving.value)
    length: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)  # None: deferred
    offset: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    metadata_header: Mapped[str] = mapped_column(sa.Text, default="")  # echoed back on HEAD
    details: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)  # validated metadata
    clip_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    attach_to_draft: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    partials: Mapped[list[int]] = mapped_column(sa.JSON, default=list)  # final: its partial uploads
    storage: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    sha256: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    bytes_cleared: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    lease_owner: Mapped[str | None] = mapped_column(sa.String(160), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def is_done_receiving(self) -> bool:
        return self.length is not None and self.offset >= self.length


# --- API schemas -------------------------------------------------------------------------

class UploadPublic(BaseModel):
    """``GET /v1/uploads/{id}``: the state of an upload for its owner (not part of tus)."""

    id: str
    kind: UploadKind
    state: UploadState
    offset: int
    length: int | None
    filename: str | None
    clip_id: str | None = None
    sha256: str | None = None
    reason: str | None = None
    created_at: datetime
    expires_at: datetime | None
    finished_at: datetime | None


class ClipStatusPublic(BaseModel):
    """``GET /v1/clips/{id}/status``: where a clip is in upload and processing."""

    clip_id: str
    status: str
    stage: str
    percent: float
    reason: str | None = None
    quality_flags: list[str] = Field(default_factory=list, description=(
        "what processing noticed in the video: black, frozen or silent (for most of it), no_audio, "
        "damaged_frames (flagged clips are still published)"))
    queue_position: int | None = Field(default=None, ge=0, description=(
        "while the clip waits for a media worker (stage 'queued'): how many clips submitted before "
        "it are still waiting or being processed; null once its processing has started"))
    updated_at: datetime
