"""operators' local console accounts: passwords (argon2id), second factors, sign-ins
between their steps, one-time links; API tokens may expire or be revoked

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _operator_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["operator_id"], ["operators.id"], name=op.f(f"fk_{table}_operator_id_operators")
    )


def upgrade() -> None:
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.alter_column("token_digest", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(_ts("token_expires_at"))

    op.create_table(
        "operator_passwords",
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=200), nullable=False),
        sa.Column("must_change", sa.Boolean(), nullable=False),
        _ts("set_at", nullable=False),
        _operator_fk("operator_passwords"),
        sa.PrimaryKeyConstraint("operator_id", name=op.f("pk_operator_passwords")),
    )
    op.create_table(
        "operator_factors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("credential_id", sa.String(length=400), nullable=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=True),
        sa.Column("sign_count", sa.BigInteger(), nullable=True),
        _ts("created_at", nullable=False),
        _ts("last_used_at"),
        _ts("revoked_at"),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        _operator_fk("operator_factors"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_factors")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_operator_factors_credential_id")),
    )
    op.create_table(
        "operator_sign_ins",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("method", sa.String(length=30), nullable=False),
        sa.Column("sealed_totp", sa.LargeBinary(), nullable=True),
        sa.Column("challenge", sa.String(length=100), nullable=True),
        _ts("created_at", nullable=False),
        _ts("expires_at", nullable=False),
        _ts("used_at"),
        _operator_fk("operator_sign_ins"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_sign_ins")),
        sa.UniqueConstraint("digest", name=op.f("uq_operator_sign_ins_digest")),
    )
    op.create_table(
        "operator_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("issued_by", sa.String(length=200), nullable=False),
        _ts("created_at", nullable=False),
        _ts("expires_at", nullable=False),
        _ts("used_at"),
        _operator_fk("operator_links"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_links")),
        sa.UniqueConstraint("digest", name=op.f("uq_operator_links_digest")),
    )
    for table in ("operator_factors", "operator_sign_ins", "operator_links"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(
                batch_op.f(f"ix_{table}_operator_id"), ["operator_id"], unique=False
            )


def downgrade() -> None:
    for table in ("operator_links", "operator_sign_ins", "operator_factors"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_operator_id"))
        op.drop_table(table)
    op.drop_table("operator_passwords")
    # Operators without a token get a digest no token hashes to (not hex).
    op.execute("UPDATE operators SET token_digest = 'none-' || id WHERE token_digest IS NULL")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("token_expires_at")
        batch_op.alter_column("token_digest", existing_type=sa.String(length=64), nullable=False)
