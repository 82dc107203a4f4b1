"""The ticket an exception answers (policy_exceptions.ticket; docs/exceptions.md).
Rows written before it keep NULL: they were requested without one.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07 00:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("policy_exceptions") as batch:
        batch.add_column(sa.Column("ticket", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("policy_exceptions") as batch:
        batch.drop_column("ticket")
