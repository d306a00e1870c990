"""Moderation cases, the reports that feed them, and the audit trail of every action."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.core.identifiers import IdField
from clipfeed.core.text import Paragraphs, RequiredParagraphs
from clipfeed.infra.db import Base, UTCDateTime, utcnow


class SubjectKind(StrEnum):
    clip = "clip"
    comment = "comment"
    user = "user"


class CaseStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class CaseSource(StrEnum):
    auto = "auto"      # held by automated screening
    report = "report"  # reported by users
    moderator = "moderator"  # opened by a moderator's own action (suspending an account)


class ModerationCase(Base):
    """One review of one subject. A subject has at most one pending case; new reports and
    automated holds join it instead of piling up duplicates in the queue."""

    __tablename__ = "moderation_cases"
    __table_args__ = (sa.Index("ix_moderation_cases_status_id", "status", "id"),
                      sa.Index("ix_moderation_cases_subject", "subject_kind", "subject_id"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    subject_kind: Mapped[str] = mapped_column(sa.String(10))
    subject_id: Mapped[int] = mapped_column(sa.BigInteger)
    subject_owner_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(10), default=CaseStatus.pending.value)
    source: Mapped[str] = mapped_column(sa.String(10))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    scores: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    report_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    decided_by: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class Report(Base):
    __tablename__ = "moderation_reports"
    __table_args__ = (sa.UniqueConstraint("case_id", "reporter_id", name="uq_moderation_reports_case_reporter"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("moderation_cases.id", ondelete="CASCADE"),
                                         index=True)
    reporter_id: Mapped[int] = mapped_column(sa.BigInteger)
    category: Mapped[str] = mapped_column(sa.String(30))
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditEntry(Base):
    __tablename__ = "moderation_audit"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)  # None: the system
    action: Mapped[str] = mapped_column(sa.String(20))  # opened, reported, held, approved, rejected
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- API schemas -------------------------------------------------------------------------

class ReportCategory(StrEnum):
    spam = "spam"
    nudity = "nudity"
    violence = "violence"
    harassment = "harassment"
    hate = "hate"
    self_harm = "self_harm"
    misinformation = "misinformation"
    copyright = "copyright"
    other = "other"


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: SubjectKind
    id: IdField = Field(description="ID of the clip, comment or user")
    category: ReportCategory
    note: Paragraphs = Field(default="", max_length=1000)


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Paragraphs = Field(default="", max_length=2000, description="shown to the creator on a rejection")


class CasePublic(BaseModel):
    id: str
    subject_kind: SubjectKind
    subject_id: str
    subject_owner_id: str | None
    status: CaseStatus
    source: CaseSource
    reason: str
    scores: dict[str, Any]
    report_count: int
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None


class CaseSubject(BaseModel):
    """What the case is about, as a moderator needs to judge it."""

    kind: SubjectKind
    id: str
    exists: bool = Field(description="false when the subject was deleted meanwhile")
    owner_handle: str | None = None
    text: str = Field(default="", description="a clip's caption, a comment's body, a user's name and bio")
    status: str | None = Field(default=None, description="the clip's, comment's or account's state")
    status_reason: str | None = None
    clip_id: str | None = Field(default=None, description="the clip itself, or the clip a comment is on")
    quality_flags: list[str] = Field(default_factory=list)
    duration_ms: int | None = None
    media: dict[str, str] = Field(default_factory=dict, description=(
        "a clip's playlist and poster, signed for review: they play while the clip is held"))


class ReportPublic(BaseModel):
    id: str
    reporter_handle: str | None
    category: str
    note: str
    created_at: datetime


class CaseDetail(CasePublic):
    subject: CaseSubject
    reports: list[ReportPublic]


class SuspensionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: RequiredParagraphs = Field(max_length=2000, description="recorded in the audit list")


class CasePage(BaseModel):
    items: list[CasePublic]
    next_cursor: str | None


class AuditPublic(BaseModel):
    id: str
    case_id: str
    actor_id: str | None
    actor_handle: str | None = None
    action: str
    detail: str
    created_at: datetime


class AuditPage(BaseModel):
    items: list[AuditPublic]
    next_cursor: str | None


class ReportAccepted(BaseModel):
    case_id: str
    status: CaseStatus
