"""Federation tables (directory tables in the main database).

A remote account is a ``users`` row with ``domain`` set (so follows, likes, comments, counts,
notifications and blocks work for it unchanged); ``federation_actors`` holds what ActivityPub
needs to talk to it. Outgoing activities wait in ``federation_deliveries`` until their inbox
takes them; the IDs of activities received are kept in ``federation_received`` so a replay is
refused.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db import Base, UTCDateTime, utcnow

INSTANCE_ACTOR = 0  # ``owner_id`` of the instance actor's key (user IDs are never 0)


class DomainPolicy(StrEnum):
    none = "none"                  # federate normally (in allowlist mode: not allowed)
    allow = "allow"                # allowlist mode: federate with this domain
    silence = "silence"            # accept follows and replies, keep its clips out of For You and search
    reject_media = "reject_media"  # federate, but never fetch or cache its media
    suspend = "suspend"            # refuse everything it sends, deliver nothing, remove what is stored


class MediaMode(StrEnum):
    """How a remote server's clips are played here (``federation_remote_media``, or per server)."""

    stream = "stream"  # from the origin, at the URLs its Video names
    cache = "cache"    # fetched once, re-packaged into our own ladder, served by our edges


class ActorKey(Base):
    """The RSA key pair a local actor signs with; its public half is in the actor document."""

    __tablename__ = "federation_keys"

    owner_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    private_pem: Mapped[str] = mapped_column(sa.Text)
    public_pem: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemoteActor(Base):
    __tablename__ = "federation_actors"

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    uri: Mapped[str] = mapped_column(sa.String(500), unique=True)
    key_id: Mapped[str] = mapped_column(sa.String(500), index=True)
    public_pem: Mapped[str] = mapped_column(sa.Text)
    inbox: Mapped[str] = mapped_column(sa.String(500))
    shared_inbox: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    domain: Mapped[str] = mapped_column(sa.String(255), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="Person")
    url: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RemoteInstance(Base):
    """What we know of a remote server: the admin's policy and its delivery health."""

    __tablename__ = "federation_instances"

    domain: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    policy: Mapped[str] = mapped_column(sa.String(12), default=DomainPolicy.none.value)
    software: Mapped[str | None] = mapped_column(sa.String(60), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failures: Mapped[int] = mapped_column(sa.Integer, default=0)  # in a row
    dead_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    media: Mapped[str | None] = mapped_column(sa.String(8), nullable=True)  # MediaMode; None: the instance's


class SoftwarePolicy(Base):
    """A policy for every server running some software (its NodeInfo name), those met later
    included: applied when a server's software becomes known and no admin set its own policy."""

    __tablename__ = "federation_software_policies"

    software: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    policy: Mapped[str] = mapped_column(sa.String(12))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Delivery(Base):
    """One activity for one inbox. Deleted once the inbox takes it (2xx) or refuses it for
    good (4xx but 408/429), or after the retry window; ``claimed_until`` is a worker's lease."""

    __tablename__ = "federation_deliveries"
    __table_args__ = (sa.Index("ix_federation_deliveries_due", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    inbox: Mapped[str] = mapped_column(sa.String(500))
    domain: Mapped[str] = mapped_column(sa.String(255), index=True)
    signer_id: Mapped[int] = mapped_column(sa.BigInteger)
    activity_id: Mapped[str] = mapped_column(sa.String(500))
    body: Mapped[bytes] = mapped_column(sa.LargeBinary)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReceivedActivity(Base):
    """An activity taken into the inbox, by the SHA-256 of its ID."""

    __tablename__ = "federation_received"

    digest: Mapped[bytes] = mapped_column(sa.LargeBinary(32), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RemoteObject(Base):
    """A remote object that became a local row: a Note (comment), a Like, an Announce (share).
    ``Undo`` and ``Delete`` find the row through it."""

    __tablename__ = "federation_objects"
    __table_args__ = (sa.Index("ix_federation_objects_local", "kind", "local_id"),)

    uri_digest: Mapped[bytes] = mapped_column(sa.LargeBinary(32), primary_key=True)
    uri: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.String(12))  # comment | like | share
    local_id: Mapped[int] = mapped_column(sa.BigInteger)  # the comment's ID; the liked/shared clip's ID
    clip_id: Mapped[int] = mapped_column(sa.BigInteger)
    actor_id: Mapped[int] = mapped_column(sa.BigInteger, index=True)  # the remote account's users row
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
