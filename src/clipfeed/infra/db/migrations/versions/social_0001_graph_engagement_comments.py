"""social: follows, counts, blocks, likes, bookmarks, shares, comments, clip comment settings

Revision ID: social_0001
Revises: (none; own branch)
Create Date: 2026-11-25
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "social_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("social",)
depends_on: str | Sequence[str] | None = "0001_foundation"


def upgrade() -> None:
    op.create_table(
        "follows",
        sa.Column("follower_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("followee_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("follower_id", "followee_id", name=op.f("pk_follows"))
    )
    op.create_index("ix_follows_followee_id_id", "follows", ["followee_id", "id"])
    op.create_index("ix_follows_follower_id_id", "follows", ["follower_id", "id"])
    op.create_table(
        "follow_counts",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("followers", sa.BigInteger(), nullable=False),
        sa.Column("following", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_follow_counts"))
    )
    op.create_index("ix_follow_counts_followers", "follow_counts", ["followers"])
    op.create_table(
        "blocks",
        sa.Column("blocker_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("blocked_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("blocker_id", "blocked_id", name=op.f("pk_blocks"))
    )
    op.create_index("ix_blocks_blocked_id", "blocks", ["blocked_id"])
    op.create_index("ix_blocks_blocker_id_id", "blocks", ["blocker_id", "id"])
    op.create_table(
        "likes",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("clip_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "clip_id", name=op.f("pk_likes"))
    )
    op.create_index("ix_likes_user_id_id", "likes", ["user_id", "id"])
    op.create_table(
        "bookmarks",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("clip_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "clip_id", name=op.f("pk_bookmarks"))
    )
    op.create_index("ix_bookmarks_user_id_id", "bookmarks", ["user_id", "id"])
    op.create_table(
        "shares",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("clip_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("to_user_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shares"))
    )
    op.create_index("ix_shares_user_id_id", "shares", ["user_id", "id"])
    op.create_table(
        "clip_social_settings",
        sa.Column("clip_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("comments", sa.String(length=10), nullable=False),
        sa.Column("pinned_comment_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("clip_id", name=op.f("pk_clip_social_settings"))
    )
    op.create_table(
        "comments",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("clip_id", sa.BigInteger(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("like_count", sa.BigInteger(), nullable=False),
        sa.Column("reply_count", sa.BigInteger(), nullable=False),
        sa.Column("mention_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments"))
    )
    op.create_index("ix_comments_author_id", "comments", ["author_id"])
    op.create_index("ix_comments_clip_parent_id", "comments", ["clip_id", "parent_id", "id"])
    op.create_index("ix_comments_clip_parent_likes", "comments", ["clip_id", "parent_id", "like_count", "id"])
    op.create_table(
        "comment_likes",
        sa.Column("comment_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("clip_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("comment_id", "user_id", name=op.f("pk_comment_likes"))
    )
    op.create_index("ix_comment_likes_user_id", "comment_likes", ["user_id"])


def downgrade() -> None:
    op.drop_table("comment_likes")
    op.drop_table("comments")
    op.drop_table("clip_social_settings")
    op.drop_table("shares")
    op.drop_table("bookmarks")
    op.drop_table("likes")
    op.drop_table("blocks")
    op.drop_table("follow_counts")
    op.drop_table("follows")
