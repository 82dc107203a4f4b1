"""risk signals and abuse resistance: rate limits, device sightings, SIM-swap
signals, incidents, SMS codes, the device of a self-service flow, source indexes

Revision ID: 0008
Revises: 0005
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        _ts("window_start"),
        _ts("not_before"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limits")),
    )
    op.create_table(
        "device_sightings",
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("device_digest", sa.String(length=64), nullable=False),
        _ts("first_seen_at"),
        _ts("last_seen_at"),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_device_sightings_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("subject_id", "device_digest", name=op.f("pk_device_sightings")),
    )
    op.create_table(
        "sim_swap_signals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=False),
        _ts("observed_at"),
        _ts("received_at"),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_sim_swap_signals_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_swap_signals")),
        sa.UniqueConstraint("request_digest", name=op.f("uq_sim_swap_signals_request_digest")),
    )
    op.create_index(
        op.f("ix_sim_swap_signals_subject_id"), "sim_swap_signals", ["subject_id"], unique=False
    )
    op.create_table(
        "incidents",
        sa.Column("scope", sa.String(length=200), nullable=False),
        _ts("started_at"),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_incidents")),
    )
    op.create_table(
        "sms_codes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        _ts("issued_at"),
        _ts("expires_at"),
        _ts("used_at", nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_sms_codes_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_codes")),
    )
    op.create_index(op.f("ix_sms_codes_case_id"), "sms_codes", ["case_id"], unique=False)
    with op.batch_alter_table("self_service_flows", schema=None) as batch_op:
        batch_op.add_column(sa.Column("device_digest", sa.String(length=64), nullable=True))
        batch_op.create_index(
            "ix_self_service_flows_source", ["source_address", "created_at"], unique=False
        )
    op.create_index("ix_cases_source", "cases", ["source_address", "opened_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_cases_source", table_name="cases")
    with op.batch_alter_table("self_service_flows", schema=None) as batch_op:
        batch_op.drop_index("ix_self_service_flows_source")
        batch_op.drop_column("device_digest")
    op.drop_index(op.f("ix_sms_codes_case_id"), table_name="sms_codes")
    op.drop_table("sms_codes")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_sim_swap_signals_subject_id"), table_name="sim_swap_signals")
    op.drop_table("sim_swap_signals")
    op.drop_table("device_sightings")
    op.drop_table("rate_limits")
