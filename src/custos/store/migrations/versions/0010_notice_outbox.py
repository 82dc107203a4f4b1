"""notice outbox: messages committed with their change, sealed, until delivered

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notice_outbox",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_outbox")),
    )
    op.create_index("ix_notice_outbox_lease_until", "notice_outbox", ["lease_until"])


def downgrade() -> None:
    # Undelivered notices are lost with the table: deliver them (run the worker)
    # before downgrading.
    op.drop_index("ix_notice_outbox_lease_until", table_name="notice_outbox")
    op.drop_table("notice_outbox")
