"""notifications: inbox, aggregated actors, on-read marks, mutes, big-creator announcements

Revision ID: notifications_0001
Revises: (none; own branch)
Create Date: 2026-11-25
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "notifications_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("notifications",)
depends_on: str | Sequence[str] | None = "0001_foundation"


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("group_key", sa.String(length=120), nullable=False),
        sa.Column("sort_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_ids", sa.JSON(), nullable=False),
        sa.Column("actor_count", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.BigInteger(), nullable=True),
        sa.Column("comment_id", sa.BigInteger(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("recipient_id", "group_key", name="uq_notifications_recipient_group")
    )
    op.create_index("ix_notifications_recipient_read", "notifications", ["recipient_id", "read_at"])
    op.create_index("ix_notifications_recipient_sort", "notifications", ["recipient_id", "sort_id"])
    op.create_table(
        "notification_actors",
        sa.Column("notification_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("actor_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recipient_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("notification_id", "actor_id", name=op.f("pk_notification_actors"))
    )
    op.create_index("ix_notification_actors_recipient_id", "notification_actors", ["recipient_id"])
    op.create_table(
        "notification_pull_marks",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("pulled_through", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_pull_marks"))
    )
    op.create_table(
        "notification_mutes",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "kind", name=op.f("pk_notification_mutes"))
    )
    op.create_table(
        "creator_announcements",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("creator_id", sa.BigInteger(), nullable=False),
        sa.Column("clip_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_creator_announcements")),
        sa.UniqueConstraint("clip_id", name="uq_creator_announcements_clip_id")
    )
    op.create_index("ix_creator_announcements_creator_id_id", "creator_announcements", ["creator_id", "id"])


def downgrade() -> None:
    op.drop_table("creator_announcements")
    op.drop_table("notification_mutes")
    op.drop_table("notification_pull_marks")
    op.drop_table("notification_actors")
    op.drop_table("notifications")
