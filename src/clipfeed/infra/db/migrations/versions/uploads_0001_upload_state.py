"""uploads: tus upload state (offset, length, metadata, owner, expiry, storage, lease)

Revision ID: uploads_0001
Revises: (none; own branch, needs the foundation)
Create Date: 2026-11-25 13:32:14.458076
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'uploads_0001'
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ('uploads',)
depends_on: str | Sequence[str] | None = '0001_foundation'


def upgrade() -> None:
    op.create_table('uploads',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('length', sa.BigInteger(), nullable=True),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('metadata_header', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('clip_id', sa.BigInteger(), nullable=True),
    sa.Column('attach_to_draft', sa.Boolean(), nullable=False),
    sa.Column('partials', sa.JSON(), nullable=False),
    sa.Column('storage', sa.JSON(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('bytes_cleared', sa.Boolean(), nullable=False),
    sa.Column('lease_owner', sa.String(length=160), nullable=True),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_uploads_owner_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uploads'))
    )
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.create_index('ix_uploads_clip_id', ['clip_id'], unique=False)
        batch_op.create_index('ix_uploads_owner_id_state', ['owner_id', 'state'], unique=False)
        batch_op.create_index('ix_uploads_state_expires_at', ['state', 'expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('uploads', schema=None) as batch_op:
        batch_op.drop_index('ix_uploads_state_expires_at')
        batch_op.drop_index('ix_uploads_owner_id_state')
        batch_op.drop_index('ix_uploads_clip_id')

    op.drop_table('uploads')
