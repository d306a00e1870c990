"""federation: actor keys, remote actors and instances, deliveries, received activities, remote objects

Revision ID: federation_0001
Revises: (none; own branch)
Create Date: 2026-12-06
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "federation_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("federation",)
depends_on: str | Sequence[str] | None = "0001_foundation"

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "federation_keys",
        sa.Column("owner_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("public_pem", sa.Text(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("owner_id", name=op.f("pk_federation_keys")),
    )
    op.create_table(
        "federation_actors",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("uri", sa.String(length=500), nullable=False),
        sa.Column("key_id", sa.String(length=500), nullable=False),
        sa.Column("public_pem", sa.Text(), nullable=False),
        sa.Column("inbox", sa.String(length=500), nullable=False),
        sa.Column("shared_inbox", sa.String(length=500), nullable=True),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("fetched_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_federation_actors")),
        sa.UniqueConstraint("uri", name=op.f("uq_federation_actors_uri")),
    )
    op.create_index(op.f("ix_federation_actors_key_id"), "federation_actors", ["key_id"])
    op.create_index(op.f("ix_federation_actors_domain"), "federation_actors", ["domain"])
    op.create_table(
        "federation_instances",
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("policy", sa.String(length=12), nullable=False),
        sa.Column("software", sa.String(length=60), nullable=True),
        sa.Column("first_seen_at", _WHEN, nullable=False),
        sa.Column("last_success_at", _WHEN, nullable=True),
        sa.Column("last_failure_at", _WHEN, nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("dead_since", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("domain", name=op.f("pk_federation_instances")),
    )
    op.create_table(
        "federation_deliveries",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("inbox", sa.String(length=500), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("signer_id", sa.BigInteger(), nullable=False),
        sa.Column("activity_id", sa.String(length=500), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _WHEN, nullable=False),
        sa.Column("claimed_until", _WHEN, nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_deliveries")),
    )
    op.create_index("ix_federation_deliveries_due", "federation_deliveries", ["next_attempt_at"])
    op.create_index(op.f("ix_federation_deliveries_domain"), "federation_deliveries", ["domain"])
    op.create_table(
        "federation_received",
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("received_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_federation_received")),
    )
    op.create_index(op.f("ix_federation_received_received_at"), "federation_received", ["received_at"])
    op.create_table(
        "federation_objects",
        sa.Column("uri_digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("uri", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("local_id", sa.BigInteger(), nullable=False),
        sa.Column("clip_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("uri_digest", name=op.f("pk_federation_objects")),
    )
    op.create_index(op.f("ix_federation_objects_actor_id"), "federation_objects", ["actor_id"])
    op.create_index("ix_federation_objects_local", "federation_objects", ["kind", "local_id"])


def downgrade() -> None:
    for table in ("federation_objects", "federation_received", "federation_deliveries", "federation_instances",
                  "federation_actors", "federation_keys"):
        op.drop_table(table)
