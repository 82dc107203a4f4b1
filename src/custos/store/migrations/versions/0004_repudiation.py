"""repudiation tokens: the hashed "this wasn't me" links of recovery notices

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repudiation_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_repudiation_tokens_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repudiation_tokens")),
        sa.UniqueConstraint("digest", name=op.f("uq_repudiation_tokens_digest")),
    )
    with op.batch_alter_table("repudiation_tokens", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_repudiation_tokens_case_id"), ["case_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("repudiation_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_repudiation_tokens_case_id"))
    op.drop_table("repudiation_tokens")
