"""sealing-key rotations: progress of the online re-sealing (resumable)

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sealing_rotations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("new_key_id", sa.String(length=16), nullable=False),
        sa.Column("old_key_ids", sa.JSON(), nullable=False),
        sa.Column("retired_copy", sa.String(length=1000), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("cursors", sa.JSON(), nullable=False),
        sa.Column("resealed", sa.JSON(), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sealing_rotations")),
    )
    op.create_index(
        "uq_sealing_rotations_running",
        "sealing_rotations",
        ["state"],
        unique=True,
        sqlite_where=sa.text("state = 'running'"),
        postgresql_where=sa.text("state = 'running'"),
    )


def downgrade() -> None:
    op.drop_index("uq_sealing_rotations_running", table_name="sealing_rotations")
    op.drop_table("sealing_rotations")
