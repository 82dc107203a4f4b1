"""The outbox sweep's claim (``lease_until <= now ORDER BY lease_until, id``)
read from one index in its order: ``(lease_until, id)`` replaces the index on
``lease_until`` alone, with which SQLite sorted every row due at the same time
(a batch's notices all are) by id before taking the first ones.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07 03:10:00
"""

from __future__ import annotations

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notice_outbox_lease_until_id", "notice_outbox", ["lease_until", "id"])
    op.drop_index("ix_notice_outbox_lease_until", table_name="notice_outbox")


def downgrade() -> None:
    op.create_index("ix_notice_outbox_lease_until", "notice_outbox", ["lease_until"])
    op.drop_index("ix_notice_outbox_lease_until_id", table_name="notice_outbox")
