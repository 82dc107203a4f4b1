"""Temporary Access Passes a reissue issued on Entra ID targets, each with the
subject's one-time link (temporary_access_passes;
docs/policy.md#temporary_access_pass)

Revision ID: 0026
Revises: 0018
Create Date: 2026-12-06 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "temporary_access_passes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("account_id", sa.String(400), nullable=False),
        sa.Column("method_id", sa.String(200), nullable=False),
        sa.Column("lifetime_minutes", sa.Integer(), nullable=False),
        sa.Column("usable_once", sa.Boolean(), nullable=False),
        sa.Column("delete_on_completion", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retrieved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delete_reason", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_temporary_access_passes_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_temporary_access_passes")),
        sa.UniqueConstraint("digest", name=op.f("uq_temporary_access_passes_digest")),
    )
    op.create_index(
        op.f("ix_temporary_access_passes_case_id"), "temporary_access_passes", ["case_id"]
    )
    op.create_index(
        op.f("ix_temporary_access_passes_subject_id"), "temporary_access_passes", ["subject_id"]
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_temporary_access_passes_subject_id"), table_name="temporary_access_passes"
    )
    op.drop_index(op.f("ix_temporary_access_passes_case_id"), table_name="temporary_access_passes")
    op.drop_table("temporary_access_passes")
