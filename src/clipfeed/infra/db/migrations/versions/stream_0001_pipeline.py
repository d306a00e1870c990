"""stream: clip counters, audience, applied event IDs; analytics aggregates (issue 8)

Revision ID: stream_0001
Revises: (none; depends on 0001_foundation)
Create Date: 2026-11-25 13:30:41.513801
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'stream_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('stream',)
depends_on: str | Sequence[str] | None = '0001_foundation'


def upgrade() -> None:
    op.create_table('analytics_breakdown',
    sa.Column('clip_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.Column('creator_id', sa.BigInteger(), nullable=False),
    sa.Column('plays', sa.BigInteger(), nullable=False),
    sa.Column('viewers', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('clip_id', 'day', 'dimension', 'value', name=op.f('pk_analytics_breakdown'))
    )
    with op.batch_alter_table('analytics_breakdown', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_breakdown_creator_day', ['creator_id', 'day'], unique=False)

    op.create_table('analytics_clip_daily',
    sa.Column('clip_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('creator_id', sa.BigInteger(), nullable=False),
    sa.Column('impressions', sa.BigInteger(), nullable=False),
    sa.Column('plays', sa.BigInteger(), nullable=False),
    sa.Column('views', sa.BigInteger(), nullable=False),
    sa.Column('completes', sa.BigInteger(), nullable=False),
    sa.Column('skips', sa.BigInteger(), nullable=False),
    sa.Column('watch_ms', sa.BigInteger(), nullable=False),
    sa.Column('likes', sa.BigInteger(), nullable=False),
    sa.Column('shares', sa.BigInteger(), nullable=False),
    sa.Column('comments', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('clip_id', 'day', name=op.f('pk_analytics_clip_daily'))
    )
    with op.batch_alter_table('analytics_clip_daily', schema=None) as batch_op:
        batch_op.create_index('ix_analytics_clip_daily_creator_day', ['creator_id', 'day'], unique=False)

    op.create_table('analytics_dropoff',
    sa.Column('clip_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('second', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('plays', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('clip_id', 'day', 'second', name=op.f('pk_analytics_dropoff'))
    )
    op.create_table('analytics_followers',
    sa.Column('creator_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('added', sa.BigInteger(), nullable=False),
    sa.Column('removed', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('creator_id', 'day', name=op.f('pk_analytics_followers'))
    )
    op.create_table('clip_audience',
    sa.Column('clip_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('viewer', sa.String(length=80), nullable=False),
    sa.Column('view_day', sa.Integer(), nullable=False),
    sa.Column('view_days', sa.BigInteger(), nullable=False),
    sa.Column('trend_day', sa.Integer(), nullable=False),
    sa.Column('trend_mask', sa.Integer(), nullable=False),
    sa.Column('trend_prev', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('clip_id', 'viewer', name=op.f('pk_clip_audience'))
    )
    op.create_table('clip_stats',
    sa.Column('clip_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('impressions', sa.BigInteger(), nullable=False),
    sa.Column('plays', sa.BigInteger(), nullable=False),
    sa.Column('views', sa.BigInteger(), nullable=False),
    sa.Column('unique_viewers', sa.BigInteger(), nullable=False),
    sa.Column('completes', sa.BigInteger(), nullable=False),
    sa.Column('replays', sa.BigInteger(), nullable=False),
    sa.Column('skips', sa.BigInteger(), nullable=False),
    sa.Column('not_interested', sa.BigInteger(), nullable=False),
    sa.Column('watch_ms', sa.BigInteger(), nullable=False),
    sa.Column('likes', sa.BigInteger(), nullable=False),
    sa.Column('comments', sa.BigInteger(), nullable=False),
    sa.Column('shares', sa.BigInteger(), nullable=False),
    sa.Column('bookmarks', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('clip_id', name=op.f('pk_clip_stats'))
    )
    op.create_table('stream_applied',
    sa.Column('clip_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('applied_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('clip_id', 'event_id', name=op.f('pk_stream_applied'))
    )
    with op.batch_alter_table('stream_applied', schema=None) as batch_op:
        batch_op.create_index('ix_stream_applied_applied_at', ['applied_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('stream_applied', schema=None) as batch_op:
        batch_op.drop_index('ix_stream_applied_applied_at')

    op.drop_table('stream_applied')
    op.drop_table('clip_stats')
    op.drop_table('clip_audience')
    op.drop_table('analytics_followers')
    op.drop_table('analytics_dropoff')
    with op.batch_alter_table('analytics_clip_daily', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_clip_daily_creator_day')

    op.drop_table('analytics_clip_daily')
    with op.batch_alter_table('analytics_breakdown', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_breakdown_creator_day')

    op.drop_table('analytics_breakdown')
