"""incident campaigns: the campaign (group, action, approvals, state) and one
row per member subject with the case opened for it

Revision ID: 0025
Revises: 0021
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0020"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("group_name", sa.String(200), nullable=False),
        sa.Column("action", sa.String(30), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("ticket", sa.String(100), nullable=False),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("started_by_person", sa.String(200), nullable=False),
        _ts("started_at", nullable=False),
        _ts("updated_at", nullable=False),
        _ts("finished_at"),
        sa.Column("required_approvals", sa.Integer, nullable=False),
        sa.Column("approver_groups", sa.JSON, nullable=False),
        sa.Column("approvals", sa.JSON, nullable=False),
    )
    op.create_index("ix_campaigns_state", "campaigns", ["state"])
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.String(64), sa.ForeignKey("campaigns.id"), primary_key=True),
        sa.Column("subject_id", sa.String(200), sa.ForeignKey("subjects.id"), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("case_id", sa.String(64), sa.ForeignKey("cases.id")),
        _ts("opened_at"),
    )
    op.create_index("ix_campaign_members_case_id", "campaign_members", ["case_id"])
    op.create_index(
        "ix_campaign_members_pending", "campaign_members", ["campaign_id", "state", "position"]
    )


def downgrade() -> None:
    op.drop_table("campaign_members")
    op.drop_table("campaigns")
