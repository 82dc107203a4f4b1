"""oversight: refusal windows (every refusal counted, a flood summarised per
window, R-36) and operator anomaly alerts

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "refusal_windows",
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summarised", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("actor", "kind", "window_start", name=op.f("pk_refusal_windows")),
    )
    op.create_table(
        "oversight_alerts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("operator", sa.String(length=200), nullable=False),
        sa.Column("signal", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("measured", sa.JSON(), nullable=False),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oversight_alerts")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_oversight_alerts_fingerprint")),
    )
    op.create_index(
        op.f("ix_oversight_alerts_operator"), "oversight_alerts", ["operator"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_oversight_alerts_operator"), table_name="oversight_alerts")
    op.drop_table("oversight_alerts")
    op.drop_table("refusal_windows")
