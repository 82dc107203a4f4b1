"""shared signals: the transmitter's streams and its SET outbox

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "ssf_streams",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("endpoint_url", sa.String(length=2000), nullable=False),
        sa.Column("sealed_authorization", sa.LargeBinary(), nullable=True),
        sa.Column("events_requested", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.String(length=300), nullable=True),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        _ts("last_verification_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssf_streams")),
    )
    op.create_table(
        "ssf_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("stream_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=True),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        _ts("queued_at", nullable=False),
        _ts("due_at", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssf_outbox")),
    )
    with op.batch_alter_table("ssf_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_ssf_outbox_due_at", ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ssf_outbox_stream_id"), ["stream_id"], unique=False)


def downgrade() -> None:
    # SETs not yet delivered are lost with the table: run the worker first.
    with op.batch_alter_table("ssf_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ssf_outbox_stream_id"))
        batch_op.drop_index("ix_ssf_outbox_due_at")
    op.drop_table("ssf_outbox")
    op.drop_table("ssf_streams")
