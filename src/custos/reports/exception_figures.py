"""The exceptions part of the compliance report (docs/exceptions.md,
docs/reports.md): every exception that overlapped the period, grouped by its
status at the end of the period (now for an open-ended one), the cases that
used each one (``governance:exception:used`` entries of the period), and
every break-glass use of the period (``governance:break_glass:used``) with
its case, exception, invoker, reason and approvers, and the refused
attempts."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from custos.domain.exceptions import ExceptionRecord, ExceptionStatus
from custos.store.exception_repository import ExceptionRepository
from custos.store.tables import approvals

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
        "ticket": record.ticket,
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
    return {
        "used": sum(uses.values()),
        **found,
        "break_glass": break_glass_uses(conn, entries),
        "break_glass_refused": break_glass_refused(entries),
        "note": EXCEPTIONS_NOTE,
    }


def break_glass_uses(conn: Connection, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every break-glass use among ``entries``, oldest first: when, the case,
    its subject, the exception, who invoked it and why, and who approved the
    case since (the people of its stored approvals, which a use starts
    afresh)."""
    used = [e for e in entries if e["type"] == "governance:break_glass:used"]
    case_ids = sorted({str(e["case"]) for e in used if e.get("case")})
    approved: dict[str, list[str]] = {c: [] for c in case_ids}
    if case_ids:
        rows = conn.execute(
            select(approvals.c.case_id, approvals.c.person)
            .where(approvals.c.case_id.in_(case_ids))
            .order_by(approvals.c.id)
        )
        for case_id, person in rows:
            approved[case_id].append(person)
    return [
        {
            "at": e["time"],
            "case": e.get("case"),
            "subject": e.get("subject"),
            "exception": e["data"].get("exception"),
            "invoked_by": e["actor"],
            "reason": e.get("reason", ""),
            "approved_by": approved.get(str(e.get("case")), []),
        }
        for e in used
    ]


def break_glass_refused(entries: list[dict[str, Any]]) -> int:
    """Refused break-glass attempts among ``entries``: each written in full,
    plus what the flood summaries of the ``break_glass`` kind counted beyond
    their window's first."""
    full = sum(1 for e in entries if e["type"] == "governance:break_glass:refused")
    summarised = sum(
        int(e["data"].get("count", 0)) - 1
        for e in entries
        if e["type"] == "oversight:refusals:summarised"
        and isinstance(e.get("data"), dict)
        and e["data"].get("kind") == "break_glass"
    )
    return full + summarised
