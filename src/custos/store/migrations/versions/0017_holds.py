"""holds as records of their own (kind, subject or group, reason, ticket, who set
and lifted them, end time); cases remember the state a hold blocked them in;
the subjects' holds attribute becomes hold records; its column stays for the
previous release (expand then contract, docs/operations.md "Upgrades")

Revision ID: 0017
Revises: 0022
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0022"
branch_labels = None
depends_on = None

#: Who set the holds carried over from the subjects' attribute: nobody known,
#: so any person with the lifting role may lift them.
MIGRATION_ACTOR = "system:migration-0017"
CARRIED_OVER = (
    "carried over by migration 0017 from the subject's holds attribute "
    "(set before holds were records of their own)"
)


def _ts(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


_subjects = sa.table("subjects", sa.column("id", sa.String), sa.column("holds", sa.JSON))
_holds = sa.table(
    "holds",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("subject_id", sa.String),
    sa.column("reason", sa.Text),
    sa.column("set_by", sa.String),
    sa.column("set_at", sa.DateTime(timezone=True)),
    sa.column("group_name", sa.String),
    sa.column("lifted_at", sa.DateTime(timezone=True)),
    sa.column("expired_at", sa.DateTime(timezone=True)),
    sa.column("ends_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=True),
        sa.Column("group_name", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ticket", sa.String(length=100), nullable=True),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_by_person", sa.String(length=200), nullable=True),
        _ts("set_at", nullable=False),
        _ts("ends_at"),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lifted_by_person", sa.String(length=200), nullable=True),
        _ts("lifted_at"),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        _ts("expired_at"),
        sa.CheckConstraint(
            "(subject_id IS NULL) <> (group_name IS NULL)", name=op.f("ck_holds_one_target")
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_holds_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    op.create_index(op.f("ix_holds_subject_id"), "holds", ["subject_id"], unique=False)
    op.create_index(op.f("ix_holds_group_name"), "holds", ["group_name"], unique=False)
    op.add_column("cases", sa.Column("held_from", sa.String(length=30), nullable=True))
    op.add_column("cases", _ts("held_at"))

    conn = op.get_bind()
    now = datetime.now(UTC)
    rows = [
        {
            "id": f"hold-{now:%Y%m%d}-{secrets.token_hex(5)}",
            "kind": str(kind),
            "subject_id": row.id,
            "reason": CARRIED_OVER,
            "set_by": MIGRATION_ACTOR,
            "set_at": now,
        }
        for row in conn.execute(sa.select(_subjects.c.id, _subjects.c.holds))
        for kind in sorted(set(row.holds or ()))
    ]
    if rows:
        op.bulk_insert(_holds, rows)
    # subjects.holds is not dropped here: the previous release still reads it
    # while API and workers roll. A later release's contract migration drops it.


def downgrade() -> None:
    """Standing subject holds go back into the attribute (a column the upgrade
    kept); group holds, lifted and expired ones, and who set or lifted them, are
    lost."""
    conn = op.get_bind()
    now = datetime.now(UTC)
    kinds: dict[str, set[str]] = {}
    standing = sa.select(_holds.c.subject_id, _holds.c.kind).where(
        _holds.c.subject_id.is_not(None),
        _holds.c.lifted_at.is_(None),
        _holds.c.expired_at.is_(None),
        sa.or_(_holds.c.ends_at.is_(None), _holds.c.ends_at > now),
    )
    for row in conn.execute(standing):
        kinds.setdefault(row.subject_id, set()).add(row.kind)
    for subject_id in [r.id for r in conn.execute(sa.select(_subjects.c.id))]:
        conn.execute(
            _subjects.update()
            .where(_subjects.c.id == subject_id)
            .values(holds=sorted(kinds.get(subject_id, ())))
        )
    op.drop_column("cases", "held_at")
    op.drop_column("cases", "held_from")
    op.drop_index(op.f("ix_holds_group_name"), table_name="holds")
    op.drop_index(op.f("ix_holds_subject_id"), table_name="holds")
    op.drop_table("holds")
