"""exceptions and break-glass as registry records (policy_exceptions): who
asked, why, what they cover and relax, their two approvals, end time,
revocation and recorded expiry (docs/exceptions.md)

Revision ID: 0018
Revises: 0025
Create Date: 2026-12-06 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0025"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "policy_exceptions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requester_person", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("relaxation", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        _ts("starts_at", nullable=False),
        _ts("ends_at", nullable=False),
        sa.Column("subject_ids", sa.JSON(), nullable=False),
        sa.Column("group_name", sa.String(length=200), nullable=True),
        sa.Column("tier", sa.String(length=100), nullable=True),
        sa.Column("approvals", sa.JSON(), nullable=False),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        _ts("revoked_at"),
        _ts("expired_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_exceptions")),
    )
    op.create_index(
        op.f("ix_policy_exceptions_group_name"), "policy_exceptions", ["group_name"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_policy_exceptions_group_name"), table_name="policy_exceptions")
    op.drop_table("policy_exceptions")
