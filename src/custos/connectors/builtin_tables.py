"""The built-in directory's own tables: its accounts (argon2id password
hashes, lock and enable flags, the must-change mark) and its sessions. They
belong to the connector, not to the case store; they live in the same
database and are created by the same migrations."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, String, Table

from custos.store.metadata import metadata
from custos.store.metadata import timestamp as _ts

builtin_accounts = Table(
    "builtin_accounts",
    metadata,
    Column("target", String(100), primary_key=True),
    Column("account_id", String(300), primary_key=True),
    Column("password_hash", String(200)),
    Column("must_change", Boolean, nullable=False, default=False),
    _ts("password_changed_at"),
    Column("locked", Boolean, nullable=False, default=False),
    Column("enabled", Boolean, nullable=False, default=True),
    # The password a rotation replaced, still accepted until its grace period
    # ends and the worker revokes it (0020; R-40).
    Column("previous_password_hash", String(200)),
)

builtin_sessions = Table(
    "builtin_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("target", String(100), nullable=False),
    Column("account_id", String(300), nullable=False),
    _ts("created_at", nullable=False),
    _ts("revoked_at"),
    Index("ix_builtin_sessions_account", "target", "account_id"),
)
