"""re-proofing, manager attestation and agent challenges: subjects.ial, proofed
attribute digests, used JWT ids, attestation requests, agent challenges

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ial", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "proofed_attributes",
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        _ts("proofed_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_proofed_attributes_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("subject_id", "name", name=op.f("pk_proofed_attributes")),
    )
    op.create_table(
        "used_jtis",
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("jti_digest", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        _ts("used_at", nullable=False),
        _ts("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("issuer", "jti_digest", name=op.f("pk_used_jtis")),
    )
    op.create_table(
        "attestation_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("attester_id", sa.String(length=200), nullable=False),
        sa.Column("relation", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        _ts("issued_at", nullable=False),
        _ts("expires_at", nullable=False),
        _ts("decided_at"),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_attestation_requests_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attestation_requests")),
        sa.UniqueConstraint("digest", name=op.f("uq_attestation_requests_digest")),
    )
    with op.batch_alter_table("attestation_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attestation_requests_case_id"), ["case_id"], unique=False
        )
    op.create_table(
        "agent_challenges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        _ts("issued_at", nullable=False),
        _ts("expires_at", nullable=False),
        _ts("answered_at"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_agent_challenges_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_challenges")),
        sa.UniqueConstraint("digest", name=op.f("uq_agent_challenges_digest")),
    )
    with op.batch_alter_table("agent_challenges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_challenges_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_agent_challenges_subject_id"), ["subject_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("agent_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_challenges_subject_id"))
        batch_op.drop_index(batch_op.f("ix_agent_challenges_case_id"))
    op.drop_table("agent_challenges")
    with op.batch_alter_table("attestation_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attestation_requests_case_id"))
    op.drop_table("attestation_requests")
    op.drop_table("used_jtis")
    op.drop_table("proofed_attributes")
    with op.batch_alter_table("subjects", schema=None) as batch_op:
        batch_op.drop_column("ial")
