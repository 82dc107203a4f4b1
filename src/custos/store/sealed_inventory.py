"""Every sealed column of the store, with how to rebuild each value's sealing
context from its row, and the queries a sealing-key rotation and a backup need:
values not yet under a key, counts by key, and a compare-and-swap re-write.

``tests/unit/store/test_sealed_inventory.py`` fails when a binary
column is added without being listed here or in :data:`NOT_SEALED`: a sealed
column missing from this list would keep its values under a retired key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, LargeBinary, Table, and_, bindparam, func, select, update

from custos.credentials import seal_contexts
from custos.credentials.sealed import LEGACY_VERSION, PREFIX_BYTES, VERSION
from custos.store.rotation_tables import service_rotations
from custos.store.tables import (
    notice_outbox,
    operator_factors,
    operator_sign_ins,
    owner_links,
    pending_totp,
    sealed_secrets,
    ssf_outbox,
    ssf_streams,
    totp_enrolments,
)
from custos.store.tap_tables import temporary_access_passes

Cursor = str | int | None


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """One column of sealed values."""

    table: Table
    column: str
    #: The primary key (one column): the order of a re-sealing pass.
    key: str
    #: The row's sealing context (``credentials.seal_contexts``).
    context: Callable[[Any], str]
    #: What the values are, for progress bars and reports.
    label: str

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"


SEALED_COLUMNS: tuple[SealedColumn, ...] = (
    SealedColumn(
        sealed_secrets,
        "blob",
        "case_id",
        lambda r: seal_contexts.case_secret(r.case_id),
        "new passwords awaiting propagation",
    ),
    SealedColumn(
        totp_enrolments,
        "sealed_secret",
        "subject_id",
        lambda r: seal_contexts.subject_totp(r.subject_id),
        "subjects' TOTP secrets",
    ),
    SealedColumn(
        pending_totp,
        "sealed_secret",
        "id",
        lambda r: seal_contexts.subject_pending_totp(r.subject_id),
        "subjects' TOTP secrets being enrolled",
    ),
    SealedColumn(
        operator_factors,
        "sealed_secret",
        "id",
        lambda r: seal_contexts.operator_totp(r.operator_id),
        "operators' TOTP secrets",
    ),
    SealedColumn(
        operator_sign_ins,
        "sealed_totp",
        "id",
        lambda r: seal_contexts.operator_pending_totp(r.operator_id),
        "operators' TOTP secrets being enrolled",
    ),
    SealedColumn(
        notice_outbox,
        "sealed",
        "id",
        lambda r: seal_contexts.notice(r.id),
        "notices waiting in the outbox",
    ),
    SealedColumn(
        ssf_outbox,
        "sealed",
        "id",
        lambda r: seal_contexts.set_outbox(r.id),
        "security event tokens waiting in the SET outbox",
    ),
    SealedColumn(
        ssf_streams,
        "sealed_authorization",
        "id",
        lambda r: seal_contexts.stream_authorization(r.id),
        "shared-signals push authorizations",
    ),
    SealedColumn(
        owner_links,
        "blob",
        "id",
        lambda r: seal_contexts.owner_link(r.id),
        "shared accounts' new credentials awaiting their owners",
    ),
    SealedColumn(
        temporary_access_passes,
        "blob",
        "id",
        lambda r: seal_contexts.temporary_access_pass(r.case_id, r.id),
        "Temporary Access Passes awaiting their subjects",
    ),
    SealedColumn(
        service_rotations,
        "sealed_secret",
        "case_id",
        lambda r: seal_contexts.service_secret(r.case_id),
        "service-account secrets awaiting their owner",
    ),
)

#: Binary columns that hold no sealed value (hashes and public keys).
NOT_SEALED = frozenset(
    {
        "ledger.leaf_hash",
        "ledger_nodes.hash",
        "webauthn_credentials.public_key",
        "operator_factors.public_key",
    }
)


@dataclass(frozen=True, slots=True)
class SealedRow:
    key: str | int
    blob: bytes
    context: str


def _blob(col: SealedColumn) -> Any:
    return col.table.c[col.column]


def _prefix(col: SealedColumn) -> Any:
    return func.substr(_blob(col), 1, PREFIX_BYTES)


def _binary(value: bytes, name: str) -> Any:
    return bindparam(name, value, type_=LargeBinary)


def not_under(
    conn: Connection, col: SealedColumn, prefix: bytes, *, after: Cursor, limit: int
) -> list[SealedRow]:
    """Up to ``limit`` rows whose value is not sealed under the key of
    ``prefix`` (``credentials.sealed.prefix_of``), after key ``after``, in key order."""
    key = col.table.c[col.key]
    query = (
        select(col.table)
        .where(_blob(col).is_not(None), _prefix(col) != _binary(prefix, "prefix"))
        .order_by(key)
        .limit(limit)
    )
    if after is not None:
        query = query.where(key > after)
    return [
        SealedRow(getattr(r, col.key), bytes(getattr(r, col.column)), col.context(r))
        for r in conn.execute(query)
    ]


def count_not_under(conn: Connection, col: SealedColumn, prefix: bytes) -> int:
    """How many values of ``col`` are not sealed under the key of ``prefix``."""
    query = select(func.count()).where(
        _blob(col).is_not(None), _prefix(col) != _binary(prefix, "prefix")
    )
    return int(conn.execute(query.select_from(col.table)).scalar_one())


def count_by_key(conn: Connection, col: SealedColumn) -> dict[str, int]:
    """Values of ``col`` by the hex id of the key they name; version-1 values
    (no key id) count under ``"legacy"``."""
    blob = _blob(col)
    version = func.substr(blob, 1, 1)
    kid = func.substr(blob, 2, PREFIX_BYTES - 1)
    counts: dict[str, int] = {}
    current = conn.execute(
        select(kid, func.count())
        .select_from(col.table)
        .where(blob.is_not(None), version == _binary(VERSION, "v2"))
        .group_by(kid)
    )
    for key_id, count in current:
        counts[bytes(key_id).hex()] = int(count)
    legacy = conn.execute(
        select(func.count())
        .select_from(col.table)
        .where(blob.is_not(None), version == _binary(LEGACY_VERSION, "v1"))
    ).scalar_one()
    if legacy:
        counts["legacy"] = int(legacy)
    return counts


def replace(conn: Connection, col: SealedColumn, row: SealedRow, new_blob: bytes) -> bool:
    """Write ``new_blob`` in place of ``row.blob`` unless the row changed since it
    was read (compare-and-swap): True when written. A row another transaction
    re-sealed, replaced or deleted meanwhile is left to it."""
    table = col.table
    result = conn.execute(
        update(table)
        .where(
            and_(
                table.c[col.key] == row.key,
                _blob(col) == _binary(row.blob, "old"),
            )
        )
        .values({col.column: new_blob})
    )
    return bool(result.rowcount)
