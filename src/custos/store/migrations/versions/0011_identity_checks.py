"""identities from directories and honest checks: subjects.contract_end,
employee_id, attribute_sources, phishing_resistant_bind_due; checks.verdict

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 05:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contract_end", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("employee_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("attribute_sources", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "phishing_resistant_bind_due",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verdict", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checks", schema=None) as batch_op:
        batch_op.drop_column("verdict")
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.drop_column("phishing_resistant_bind_due")
        batch_op.drop_column("attribute_sources")
        batch_op.drop_column("employee_id")
        batch_op.drop_column("contract_end")
