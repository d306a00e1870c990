"""Social tables. Where each lives (docs/design/social.md, "Storage"):

* directory tables in the main database, queried across users: ``follows``, ``follow_counts``,
  ``blocks``, ``user_domain_blocks``, ``clip_social_settings``;
* sharded by the acting user (``db.shard_session(user_id)``): ``likes``, ``bookmarks``,
  ``shares`` (a viewer's ``liked_by_me`` flags and "my likes" list are one shard's rows);
* sharded by clip (``db.shard_session(clip_id)``): ``comments`` and ``comment_likes`` (a page of
  a clip's comments, their like counts and the viewer's likes are one shard's rows).

Sharded tables carry no foreign keys. Row IDs are 64-bit time-ordered IDs, so ``id`` orders
rows by creation and serves as the pagination cursor.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clipfeed.infra.db import Base, UTCDateTime, utcnow


class CommentSetting(StrEnum):
    everyone = "everyone"
    followers = "followers"  # the creator's followers (and the creator)
    off = "off"              # no new comments or replies; existing ones stay readable


class CommentStatus(StrEnum):
    visible = "visible"
    held = "held"        # the text filter asked for review: only the author sees it
    removed = "removed"  # taken down by a moderator
    deleted = "deleted"  # deleted by its author or the clip's creator


class Follow(Base):
    __tablename__ = "follows"
    __table_args__ = (sa.Index("ix_follows_followee_id_id", "followee_id", "id"),
                      sa.Index("ix_follows_follower_id_id", "follower_id", "id"))

    follower_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    followee_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FollowCount(Base):
    """Exact follower/following counts, changed in the transaction that changes ``follows``."""

    __tablename__ = "follow_counts"
    __table_args__ = (sa.Index("ix_follow_counts_followers", "followers"),)

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    followers: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    following: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Block(Base):
    __tablename__ = "blocks"
    __table_args__ = (sa.Index("ix_blocks_blocked_id", "blocked_id"),
                      sa.Index("ix_blocks_blocker_id_id", "blocker_id", "id"))

    blocker_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    blocked_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UserDomainBlock(Base):
    """A user's block of a whole server: every account whose ``users.domain`` is ``domain``,
    known now or met later, counts as blocked both ways (``graph``: the readers of ``blocks``
    read these too). ``id`` orders a user's list."""

    __tablename__ = "user_domain_blocks"
    __table_args__ = (sa.Index("ix_user_domain_blocks_domain", "domain"),
                      sa.Index("ix_user_domain_blocks_user_id_id", "user_id", "id"))

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    domain: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    id: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Like(Base):
    """Sharded by ``user_id``."""

    __tablename__ = "likes"
    __shard_key__ = "user_id"  # sharded: rows live on the database of this key's virtual shard
    __table_args__ = (sa.Index("ix_likes_user_id_id", "user_id", "id"),)

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Bookmark(Base):
    """Sharded by ``user_id``."""

    __tablename__ = "bookmarks"
    __shard_key__ = "user_id"  # sharded: rows live on the database of this key's virtual shard
    __table_args__ = (sa.Index("ix_bookmarks_user_id_id", "user_id", "id"),)

    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Share(Base):
    """Sharded by ``user_id`` (the sharer)."""

    __tablename__ = "shares"
    __shard_key__ = "user_id"  # sharded: rows live on the database of this key's virtual shard
    __table_args__ = (sa.Index("ix_shares_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(sa.BigInteger)
    clip_id: Mapped[int] = mapped_column(sa.BigInteger)
    channel: Mapped[str] = mapped_column(sa.String(20))
    to_user_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClipSocialSettings(Base):
    """Per-clip settings owned by the social feature (the clip table stays the clips feature's)."""

    __tablename__ = "clip_social_settings"

    clip_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    comments: Mapped[str] = mapped_column(sa.String(10), default=CommentSetting.everyone.value)
    # One pinned comment per clip: the row holds it, so two pins cannot both win.
    pinned_comment_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Comment(Base):
    """Sharded by ``clip_id``."""

    __tablename__ = "comments"
    __shard_key__ = "clip_id"  # sharded: rows live on the database of this key's virtual shard
    __table_args__ = (sa.Index("ix_comments_clip_parent_id", "clip_id", "parent_id", "id"),
                      sa.Index("ix_comments_clip_parent_likes", "clip_id", "parent_id", "like_count", "id"),
                      sa.Index("ix_comments_author_id", "author_id"))

    id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    clip_id: Mapped[int] = mapped_column(sa.BigInteger)
    author_id: Mapped[int] = mapped_column(sa.BigInteger)
    parent_id: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)  # one level of replies
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(10), default=CommentStatus.visible.value)
    like_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    reply_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    mention_ids: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CommentLike(Base):
    """Sharded by ``clip_id`` (with its comment); ``comments.like_count`` changes with it."""

    __tablename__ = "comment_likes"
    __shard_key__ = "clip_id"  # sharded: rows live on the database of this key's virtual shard
    __table_args__ = (sa.Index("ix_comment_likes_user_id", "user_id"),)

    comment_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    clip_id: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
