"""service-account rotation: the owner's one-time retrieval, grace periods of
old credentials, and the built-in directory's previous password

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_rotations",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.String(length=200), nullable=False),
        sa.Column("retrieval_digest", sa.String(length=64), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=True),
        sa.Column("grace_s", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retrieved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_service_rotations_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_service_rotations")),
        sa.UniqueConstraint("retrieval_digest", name=op.f("uq_service_rotations_retrieval_digest")),
    )
    op.create_index("ix_service_rotations_service_id", "service_rotations", ["service_id"])
    op.create_table(
        "credential_graces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.String(length=300), nullable=False),
        sa.Column("kept_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoke_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_credential_graces_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credential_graces")),
    )
    op.create_index("ix_credential_graces_case_id", "credential_graces", ["case_id"])
    op.create_index("ix_credential_graces_due", "credential_graces", ["revoked_at", "revoke_after"])
    with op.batch_alter_table("builtin_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_password_hash", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("builtin_accounts", schema=None) as batch_op:
        batch_op.drop_column("previous_password_hash")
    op.drop_index("ix_credential_graces_due", table_name="credential_graces")
    op.drop_index("ix_credential_graces_case_id", table_name="credential_graces")
    op.drop_table("credential_graces")
    op.drop_index("ix_service_rotations_service_id", table_name="service_rotations")
    op.drop_table("service_rotations")
