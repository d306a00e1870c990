"""Account tables and their API schemas."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.core.text import OneLine, Paragraphs
from clipfeed.infra.db import Base, UTCDateTime, utcnow

HANDLE = re.compile(r"^[a-z0-9_](?:[a-z0-9_.]{1,28}[a-z0-9_])$")
# What the API accepts as a handle, for the OpenAPI document: HANDLE before trimming and lower-casing.
HANDLE_INPUT = r"^(?!.*\.\.)\s*[A-Za-z0-9_][A-Za-z0-9_.]{1,28}[A-Za-z0-9_]\s*$"
# An account of another server (federation): name@host, with :port when not the default.
REMOTE_HANDLE = re.compile(r"^[a-z0-9_.~-]{1,64}@[a-z0-9.-]{1,190}(:[0-9]{1,5})?$")
RESERVED_HANDLES = {"admin", "me", "moderator", "support", "clipfeed", "api", "root", "system"}


class Role(StrEnum):
    user = "user"
    moderator = "moderator"
    admin = "admin"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    # A remote account's handle is "name@domain" (docs/design/federation.md).
    handle: Mapped[str] = mapped_column(sa.String(255), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True, nullable=True)
    display_name: Mapped[str] = mapped_column(sa.String(60), default="")
    bio: Mapped[str] = mapped_column(sa.String(300), default="")
    avatar_key: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    role: Mapped[str] = mapped_column(sa.String(20), default=Role.user.value)
    region: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    language: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set for an account of another server (federation): it never signs in here.
    domain: Mapped[str | None] = mapped_column(sa.String(255), nullable=True, index=True)

    @property
    def is_moderator(self) -> bool:
        return self.role in (Role.moderator.value, Role.admin.value)


class AuthToken(Base):
    """Opaque bearer tokens, stored as SHA-256 digests: a leaked table grants nothing.

    A refresh token and the access tokens minted from it share a ``family``; presenting an
    already-used refresh token revokes the whole family (a stolen token was replayed)."""

    __tablename__ = "auth_tokens"

    digest: Mapped[bytes] = mapped_column(sa.LargeBinary(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.BigInteger, sa.ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))  # access | refresh
    family: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# --- API schemas -------------------------------------------------------------------------

def _check_handle(value: str) -> str:
    value = value.strip().lower()
    if not HANDLE.match(value) or ".." in value:
        raise ValueError("3 to 30 characters: lowercase letters, digits, '_' and '.' "
                         "(no '.' at either end, no '..')")
    if value in RESERVED_HANDLES:
        raise ValueError("this handle is reserved")
    return value


class RegisterRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str = Field(examples=["dancing_cat"], json_schema_extra={"pattern": HANDLE_INPUT})
    email: EmailStr
    password: str = Field(min_length=10, max_length=256)
    display_name: OneLine = Field(default="", max_length=60)
    invite_code: str | None = Field(default=None, max_length=64,
                                    description="needed when the instance is invite-only (GET /v1/instance)")

    _handle = field_validator("handle")(_check_handle)

    @field_validator("email")
    @classmethod
    def _lower_email(cls, value: str) -> str:
        return value.lower()


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    login: OneLine = Field(min_length=1, max_length=254, description="handle or email")
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=10, max_length=200)


class ProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str | None = Field(default=None, json_schema_extra={"pattern": HANDLE_INPUT})
    display_name: OneLine | None = Field(default=None, max_length=60)
    bio: Paragraphs | None = Field(default=None, max_length=300)
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str | None) -> str | None:
        return None if value is None else _check_handle(value)


class DeleteAccountRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=256)


class UserPublic(BaseModel):
    id: str = Field(description="64-bit ID as a string (JavaScript numbers lose precision)")
    handle: str
    display_name: str
    bio: str
    avatar_url: str | None
    created_at: datetime


class UserPrivate(UserPublic):
    email: str | None
    role: Role
    language: str | None


class TokenPair(BaseModel):
    token_type: str = "bearer"
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: UserPrivate
