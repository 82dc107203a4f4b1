"""merkle ledger: leaf index and hash on ledger, ledger_nodes, tree_heads, policies

Existing entries are backfilled in ``seq`` order: leaf index, leaf hash and every
complete subtree hash, streaming (memory stays O(log n)).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leaf_index", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("leaf_hash", sa.LargeBinary(), nullable=True))
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name=op.f("pk_ledger_nodes")),
    )
    _backfill()
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.alter_column("leaf_index", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("leaf_hash", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.create_index("uq_ledger_leaf_index", ["leaf_index"], unique=True)
    op.create_table(
        "tree_heads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tree_heads")),
    )
    with op.batch_alter_table("tree_heads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tree_heads_tree_size"), ["tree_size"], unique=False)
    op.create_table(
        "policies",
        sa.Column("hash", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("hash", name=op.f("pk_policies")),
    )


def _backfill() -> None:
    """RFC 9162 hashes for the rows written before this revision (self-contained:
    a migration must not change when the application code does)."""
    bind = op.get_bind()
    ledger = sa.table(
        "ledger",
        sa.column("seq", sa.BigInteger()),
        sa.column("canonical", sa.Text()),
        sa.column("leaf_index", sa.BigInteger()),
        sa.column("leaf_hash", sa.LargeBinary()),
    )
    nodes = sa.table(
        "ledger_nodes",
        sa.column("level", sa.Integer()),
        sa.column("position", sa.BigInteger()),
        sa.column("hash", sa.LargeBinary()),
    )
    rows = bind.execute(sa.select(ledger.c.seq, ledger.c.canonical).order_by(ledger.c.seq)).all()
    pending: dict[tuple[int, int], bytes] = {}  # even-position subtrees awaiting a sibling
    for index, (seq, canonical) in enumerate(rows):
        leaf = hashlib.sha256(b"\x00" + canonical.encode("utf-8")).digest()
        bind.execute(
            ledger.update().where(ledger.c.seq == seq).values(leaf_index=index, leaf_hash=leaf)
        )
        level, position, current = 0, index, leaf
        while position & 1:
            left = pending.pop((level, position - 1))
            current = hashlib.sha256(b"\x01" + left + current).digest()
            level, position = level + 1, position >> 1
            bind.execute(nodes.insert().values(level=level, position=position, hash=current))
        pending[(level, position)] = current


def downgrade() -> None:
    op.drop_table("policies")
    with op.batch_alter_table("tree_heads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tree_heads_tree_size"))
    op.drop_table("tree_heads")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_index("uq_ledger_leaf_index")
        batch_op.drop_column("leaf_hash")
        batch_op.drop_column("leaf_index")
    op.drop_table("ledger_nodes")
