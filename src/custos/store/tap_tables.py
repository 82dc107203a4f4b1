"""Temporary Access Passes a reissue issued (docs/policy.md#temporary_access_pass,
0026): per case, target and account, the pass's Graph id and lifetime, the
subject's one-time link (its SHA-256 digest only) and the pass sealed under
the case and row until the subject opens the link or it lapses, and when the
worker deleted the pass on the target."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, ForeignKey, Integer, LargeBinary, String, Table

from custos.store.metadata import metadata
from custos.store.metadata import timestamp as _ts

temporary_access_passes = Table(
    "temporary_access_passes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("cases.id"), nullable=False, index=True),
    Column("subject_id", String(200), nullable=False, index=True),
    Column("target", String(100), nullable=False),
    Column("account_id", String(400), nullable=False),
    # Graph's id of the method (not a secret: it names the pass, never opens anything).
    Column("method_id", String(200), nullable=False),
    Column("lifetime_minutes", Integer, nullable=False),
    Column("usable_once", Boolean, nullable=False),
    Column("delete_on_completion", Boolean, nullable=False),
    # The one-time link: its SHA-256 digest only.
    Column("digest", String(64), nullable=False, unique=True),
    # AES-GCM sealed pass for the subject; wiped when retrieved, lapsed or deleted.
    Column("blob", LargeBinary),
    _ts("issued_at", nullable=False),
    _ts("link_expires_at", nullable=False),
    _ts("retrieved_at"),
    _ts("deleted_at"),
    Column("delete_reason", String(200)),
)
