"""shared accounts: one one-time link per owner to the new credential
(owner_links) and the owner a help-desk case was asked for (cases.on_behalf_of;
docs/shared-accounts.md)

Revision ID: 0023
Revises: 0017
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("on_behalf_of", sa.String(200), nullable=True))
    op.create_table(
        "owner_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("subject_id", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("blob", sa.LargeBinary(), nullable=True),
        sa.Column("must_change", sa.Boolean(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("void_reason", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_owner_links_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owner_links")),
        sa.UniqueConstraint("digest", name=op.f("uq_owner_links_digest")),
    )
    op.create_index(op.f("ix_owner_links_case_id"), "owner_links", ["case_id"])
    op.create_index(op.f("ix_owner_links_subject_id"), "owner_links", ["subject_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_owner_links_subject_id"), table_name="owner_links")
    op.drop_index(op.f("ix_owner_links_case_id"), table_name="owner_links")
    op.drop_table("owner_links")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("on_behalf_of")
