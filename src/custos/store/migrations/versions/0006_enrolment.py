"""subject self-management: contacts with a lifecycle (moved out of the JSON
column on subjects), authenticators and their history, WebAuthn credentials and
challenges, subject sessions, TOTP enrolments awaiting their first code

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    ref_table = target.split(".")[0]
    return sa.ForeignKeyConstraint(
        [column], [target], name=op.f(f"fk_{table}_{column}_{ref_table}")
    )


def _index(table: str, column: str, unique: bool = False) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_{column}"), [column], unique=unique)


def upgrade() -> None:
    op.create_table(
        "subject_contacts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        _ts("added_at", nullable=False),
        _ts("confirmed_at"),
        _ts("removed_at"),
        sa.Column("confirm_digest", sa.String(length=64), nullable=True),
        _ts("confirm_expires_at"),
        _fk("subject_contacts", "subject_id", "subjects.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_contacts")),
    )
    _index("subject_contacts", "subject_id")
    op.create_table(
        "authenticators",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        _ts("bound_at", nullable=False),
        sa.Column("bound_by", sa.String(length=200), nullable=False),
        _ts("last_used_at"),
        _ts("revoked_at"),
        sa.Column("revoked_reason", sa.String(length=200), nullable=True),
        _fk("authenticators", "subject_id", "subjects.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authenticators")),
    )
    _index("authenticators", "subject_id")
    op.create_table(
        "webauthn_credentials",
        sa.Column("authenticator_id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("credential_id", sa.String(length=1400), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("user_verified", sa.Boolean(), nullable=False),
        _fk("webauthn_credentials", "authenticator_id", "authenticators.id"),
        _fk("webauthn_credentials", "subject_id", "subjects.id"),
        sa.PrimaryKeyConstraint("authenticator_id", name=op.f("pk_webauthn_credentials")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_webauthn_credentials_credential_id")),
    )
    _index("webauthn_credentials", "subject_id")
    op.create_table(
        "webauthn_challenges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("challenge", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("case_id", sa.String(length=64), nullable=True),
        sa.Column("user_verification", sa.Boolean(), nullable=False),
        _ts("created_at", nullable=False),
        _ts("expires_at", nullable=False),
        _ts("used_at"),
        _fk("webauthn_challenges", "subject_id", "subjects.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webauthn_challenges")),
        sa.UniqueConstraint("challenge", name=op.f("uq_webauthn_challenges_challenge")),
    )
    _index("webauthn_challenges", "case_id")
    op.create_table(
        "subject_sessions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("aal", sa.Integer(), nullable=False),
        sa.Column("second_factor_due", sa.Boolean(), nullable=False),
        _ts("created_at", nullable=False),
        _ts("last_seen_at", nullable=False),
        _ts("reauth_at"),
        _ts("ended_at"),
        sa.Column("end_reason", sa.String(length=100), nullable=True),
        _fk("subject_sessions", "subject_id", "subjects.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject_sessions")),
        sa.UniqueConstraint("digest", name=op.f("uq_subject_sessions_digest")),
    )
    _index("subject_sessions", "subject_id")
    op.create_table(
        "pending_totp",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        _ts("created_at", nullable=False),
        _ts("expires_at", nullable=False),
        _ts("used_at"),
        _fk("pending_totp", "subject_id", "subjects.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_totp")),
    )
    _index("pending_totp", "subject_id")
    _move_contacts()
    _history_of_existing_enrolments()


def _move_contacts() -> None:
    """Copy the JSON contacts into subject_contacts (confirmed ones confirmed at the
    subject's creation), then drop the column."""
    conn = op.get_bind()
    subjects = sa.table(
        "subjects",
        sa.column("id", sa.String()),
        sa.column("contacts", sa.JSON()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    contacts = sa.table(
        "subject_contacts",
        sa.column("subject_id", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("address", sa.String()),
        sa.column("added_at", sa.DateTime(timezone=True)),
        sa.column("confirmed_at", sa.DateTime(timezone=True)),
    )
    rows = [
        {
            "subject_id": s.id,
            "kind": c["kind"],
            "address": c["address"],
            "added_at": s.created_at,
            "confirmed_at": s.created_at if c.get("confirmed") else None,
        }
        for s in conn.execute(sa.select(subjects))
        for c in (s.contacts or [])
    ]
    if rows:
        op.bulk_insert(contacts, rows)
    # SQLite >= 3.35 drops a column in place; no table rebuild (and no FK trouble).
    op.drop_column("subjects", "contacts")


def _history_of_existing_enrolments() -> None:
    """Give TOTP secrets and saved-code sets enrolled before this revision their
    authenticator row, so history and mfa_bound start complete (R-36)."""
    import uuid

    conn = op.get_bind()
    now = datetime.now(UTC)
    stamp = sa.DateTime(timezone=True)  # typed, so SQLite hands back datetimes
    totp_table = sa.table(
        "totp_enrolments", sa.column("subject_id", sa.String()), sa.column("enrolled_at", stamp)
    )
    codes_table = sa.table(
        "recovery_codes",
        sa.column("subject_id", sa.String()),
        sa.column("created_at", stamp),
        sa.column("used_at", stamp),
    )
    totp = conn.execute(sa.select(totp_table.c.subject_id, totp_table.c.enrolled_at)).all()
    codes = conn.execute(
        sa.select(codes_table.c.subject_id, sa.func.min(codes_table.c.created_at))
        .where(codes_table.c.used_at.is_(None))
        .group_by(codes_table.c.subject_id)
    ).all()
    authenticators = sa.table(
        "authenticators",
        sa.column("id", sa.String()),
        sa.column("subject_id", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("label", sa.String()),
        sa.column("bound_at", sa.DateTime(timezone=True)),
        sa.column("bound_by", sa.String()),
    )
    rows = [
        {
            "id": str(uuid.uuid4()),
            "subject_id": sid,
            "kind": "totp",
            "label": "authenticator app",
            "bound_at": at or now,
            "bound_by": "system:migration",
        }
        for sid, at in totp
    ] + [
        {
            "id": str(uuid.uuid4()),
            "subject_id": sid,
            "kind": "recovery_codes",
            "label": "saved recovery codes",
            "bound_at": at or now,
            "bound_by": "system:migration",
        }
        for sid, at in codes
    ]
    if rows:
        op.bulk_insert(authenticators, rows)


def downgrade() -> None:
    op.add_column(
        "subjects",
        sa.Column("contacts", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    for table in (
        "pending_totp",
        "subject_sessions",
        "webauthn_challenges",
        "webauthn_credentials",
        "authenticators",
        "subject_contacts",
    ):
        op.drop_table(table)
