"""Tables of the instance settings (overrides, their version counter, invite codes, the admin
audit) and the schemas of the admin console's routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.core.text import OneLine
from clipfeed.infra.db import Base, UTCDateTime, utcnow

RegistrationMode = Literal["open", "closed", "invite"]


class SettingOverride(Base):
    """One setting an admin changed; its absence means the environment's value applies."""

    __tablename__ = "instance_settings"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(sa.JSON)
    updated_by: Mapped[int] = mapped_column(sa.BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SettingsVersion(Base):
    """One row, bumped in the transaction of every change: processes compare it with the
    version their cached overrides were read at, so a change made by one process reaches the
    others at their next check (``service.REFRESH_S``)."""

    __tablename__ = "instance_settings_version"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(sa.BigInteger)


class Invite(Base):
    __tablename__ = "instance_invites"

    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    note: Mapped[str] = mapped_column(sa.String(200))
    created_by: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_by: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AdminAction(Base):
    """The admin audit: who changed what, when, from which value to which."""

    __tablename__ = "instance_audit"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    actor_id: Mapped[int] = mapped_column(sa.BigInteger)
    action: Mapped[str] = mapped_column(sa.String(32))  # set | reset | invite_created | invite_revoked
    subject: Mapped[str] = mapped_column(sa.String(64))  # a setting's name or an invite code
    old: Mapped[Any] = mapped_column(sa.JSON, nullable=True)
    new: Mapped[Any] = mapped_column(sa.JSON, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- schemas ---------------------------------------------------------------------------


class InstancePublic(BaseModel):
    name: str
    description: str
    registration_mode: RegistrationMode


class SettingPublic(BaseModel):
    name: str
    section: Literal["instance", "registration", "limits", "screening"]
    kind: Literal["text", "paragraphs", "choice", "bytes", "seconds", "policy"]
    value: Any = Field(description="the effective value")
    environment_value: Any = Field(description="the value the environment (CLIPFEED_…) gives")
    environment_variable: str
    overridden: bool
    choices: list[str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    updated_at: datetime | None = None
    updated_by_handle: str | None = None


class SettingsPage(BaseModel):
    items: list[SettingPublic]


class SettingUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(description="the new value, checked against the setting's type and bounds")


class InviteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: OneLine = Field(default="", max_length=200, description="who the code is for (admins only see it)")


class InvitePublic(BaseModel):
    code: str
    note: str
    created_at: datetime
    created_by_handle: str | None
    state: Literal["unused", "used", "revoked"]
    used_at: datetime | None
    used_by_handle: str | None


class InvitePage(BaseModel):
    items: list[InvitePublic] = Field(description="newest first")
    next_cursor: str | None = Field(description="the next page's cursor; null on the last page")


class AdminActionPublic(BaseModel):
    id: str
    actor_handle: str | None
    action: Literal["set", "reset", "invite_created", "invite_revoked"]
    subject: str
    old: Any
    new: Any
    at: datetime


class AdminAuditPage(BaseModel):
    items: list[AdminActionPublic]
    next_cursor: str | None


class StorageTier(BaseModel):
    name: str
    objects: int
    bytes: int
    price_gb_month: float
    monthly: float


class StorageReport(BaseModel):
    currency: Literal["USD"] = "USD"
    tiers: list[StorageTier]
    monthly: float
    all_hot_monthly: float = Field(description="the bill if everything stayed in the hot tier")
    saved_monthly: float
    dropped_bytes: int


class ConsumerHealth(BaseModel):
    group: str
    topic: str
    started: bool = Field(description="false: no worker of this role ever consumed the topic")
    pending: int = Field(description="records appended but not yet acknowledged by the group (at most)")
    partitions_behind: int


class RoleHealth(BaseModel):
    name: str
    in_this_process: bool
    consumers: list[ConsumerHealth]


class DependencyCheck(BaseModel):
    name: str
    ok: bool
    ms: float | None = None
    error: str | None = None


class ServiceHealth(BaseModel):
    ready: bool
    checks: list[DependencyCheck]
    roles: list[RoleHealth]
    checked_at: datetime
