"""The exceptions part of the compliance report (docs/exceptions.md,
docs/reports.md): every exception that overlapped the period, grouped by its
status at the end of the period (now for an open-ended one), and the cases
that used each one (``governance:exception:used`` entries of the period)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from custos.domain.exceptions import ExceptionRecord, ExceptionStatus
from custos.store.exception_repository import ExceptionRepository

if TYPE_CHECKING:
    from sqlalchemy import Connection

EXCEPTIONS_NOTE = (
    "Exceptions are registry records, never policy edits: each has an end time and "
    "was approved by two people other than its requester (docs/exceptions.md). "
    "Listed by their status at the end of the period."
)


def _row(record: ExceptionRecord, status: ExceptionStatus, uses: int) -> dict[str, Any]:
    covers = ", ".join(record.subject_ids) or (
        f"group {record.group}" if record.group is not None else f"tier {record.tier}"
    )
    return {
        "id": record.id,
        "status": str(status),
        "relaxation": str(record.relaxation),
        "value": record.value,
        "covers": covers,
        "reason": record.reason,
        "requested_by": record.requested_by,
        "approvers": sorted(record.approvers()),
        "starts_at": record.starts_at.isoformat(),
        "ends_at": record.ends_at.isoformat(),
        "cases_used": uses,
    }


def exception_figures(
    conn: Connection,
    start: datetime | None,
    end: datetime | None,
    entries: list[dict[str, Any]],
) -> dict[str, Any]:
    """``used``: uses in the period ``[start, end)`` (``entries``: its ledger
    entries); ``active``, ``expired``, ``revoked``, ``pending``: the exceptions
    that overlapped the period, by status at its end, each with how many cases
    used it in the period."""
    uses = Counter(
        str(e["data"]["exception"])
        for e in entries
        if e["type"] == "governance:exception:used" and isinstance(e.get("data"), dict)
    )
    at = end or datetime.now(UTC)
    found: dict[str, list[dict[str, Any]]] = {str(s): [] for s in ExceptionStatus}
    for record in ExceptionRepository(conn).started_before(at):
        if start is not None and record.ends_at <= start:
            continue
        status = record.status(at)
        found[str(status)].append(_row(record, status, uses[record.id]))
    return {"used": sum(uses.values()), **found, "note": EXCEPTIONS_NOTE}
