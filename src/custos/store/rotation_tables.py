"""Service-account rotation (docs/service-accounts.md, 0020): per rotation case,
the owner's one-time retrieval (the link's digest, the secret sealed until it
is retrieved or the link lapses) and, per target account that kept the old
credential, the grace period and its revocation (R-40)."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Index, Integer, LargeBinary, String, Table

from custos.store.metadata import metadata
from custos.store.metadata import timestamp as _ts

service_rotations = Table(
    "service_rotations",
    metadata,
    Column("case_id", ForeignKey("cases.id"), primary_key=True),
    Column("service_id", String(200), nullable=False, index=True),
    Column("owner_id", String(200), nullable=False),
    # The one-time link: its SHA-256 digest only.
    Column("retrieval_digest", String(64), nullable=False, unique=True),
    # AES-GCM sealed secret for the owner; wiped when retrieved or lapsed.
    Column("sealed_secret", LargeBinary),
    Column("grace_s", Integer, nullable=False),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("retrieved_at"),
)

credential_graces = Table(
    "credential_graces",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("target", String(100), nullable=False),
    Column("account_id", String(300), nullable=False),
    _ts("kept_at", nullable=False),
    _ts("revoke_after", nullable=False),
    _ts("revoked_at"),
    Column("answer", String(500)),
    Index("ix_credential_graces_due", "revoked_at", "revoke_after"),
)
