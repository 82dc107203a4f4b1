"""The figures behind the compliance report, the dashboard JSON and ``/metrics``.

:func:`collect` reads the store for one period (cases *opened* in
``[start, end)``; ledger entries, proofs and receipts *recorded* in it) and
returns plain data. How each figure is computed is documented in
``docs/reports.md``; the code below is the definition.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, true

from custos.domain.states import CaseState
from custos.reports.exception_figures import exception_figures
from custos.reports.ledger_status import LedgerStatus
from custos.store.mapping import aware
from custos.store.tables import approvals, cases, ledger, proofs, receipts, sealed_secrets


@dataclass(frozen=True, slots=True)
class Period:
    """``[start, end)``; either bound None means open-ended (``/metrics``: all time)."""

    start: datetime | None = None
    end: datetime | None = None

    def to_json(self) -> dict[str, str | None]:
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }


@dataclass
class Figures:
    period: dict[str, str | None]
    recoveries: dict[str, Any]
    dual_control: dict[str, Any]
    time_to_restore: dict[str, Any]
    proofing: dict[str, Any]
    exceptions: dict[str, Any]
    propagation: dict[str, Any]
    credentials: dict[str, Any]
    separation_of_duties: dict[str, Any]
    audit_trail: dict[str, Any]
    governance: dict[str, Any]
    ledger: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready data (the dashboard format)."""
        return asdict(self)


def _within(column: Any, period: Period) -> Any:
    clauses = []
    if period.start is not None:
        clauses.append(column >= period.start)
    if period.end is not None:
        clauses.append(column < period.end)
    return and_(true(), *clauses)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..1): a value that actually occurred."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def collect(conn: Connection, period: Period, ledger_status: LedgerStatus) -> Figures:
    """Every figure for ``period`` from one connection (one consistent read on
    PostgreSQL when the caller opened a transaction)."""
    case_rows = list(conn.execute(select(cases).where(_within(cases.c.opened_at, period))))
    case_ids = [r.id for r in case_rows]
    approval_rows = _for_cases(conn, approvals, case_ids)
    approvers: dict[str, set[str]] = {}
    for a in approval_rows:
        approvers.setdefault(a.case_id, set()).add(a.person)
    completed = [r for r in case_rows if r.state == str(CaseState.COMPLETED)]
    entries = [
        json.loads(r.canonical)
        for r in conn.execute(
            select(ledger.c.canonical).where(_within(ledger.c.occurred_at, period))
        )
    ]
    types = Counter(str(e["type"]) for e in entries)
    return Figures(
        period=period.to_json(),
        recoveries=_recoveries(case_rows),
        dual_control=_dual_control(completed, approvers),
        time_to_restore=_time_to_restore(completed),
        proofing=_proofing(conn, period),
        exceptions=exception_figures(conn, period.start, period.end, entries),
        propagation=_propagation(conn, period, entries),
        credentials={
            "tokens_issued": types["credential:token:issued"],
            "temp_passwords_issued": types["credential:temp_password:issued"],
            "tokens_redeemed": types["credential:token:redeemed"],
            "tokens_rejected": types["credential:token:rejected"],
            "secrets_wiped": types["credential:secret:wiped"],
            "completed_with_secret_still_stored": _secrets_left(conn, completed),
        },
        separation_of_duties=_sod(case_rows, approvers),
        audit_trail=_audit_trail(entries, types),
        governance=_governance(case_rows, entries),
        ledger={"entries_total": _count(conn, ledger), **ledger_status.to_json()},
    )


def _for_cases(conn: Connection, table: Any, case_ids: list[str]) -> list[Any]:
    rows: list[Any] = []
    for i in range(0, len(case_ids), 500):  # keep IN lists a reasonable size
        chunk = case_ids[i : i + 500]
        rows.extend(conn.execute(select(table).where(table.c.case_id.in_(chunk))))
    return rows


def _count(conn: Connection, table: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _recoveries(rows: list[Any]) -> dict[str, Any]:
    pairs = Counter((r.channel, r.tier) for r in rows)
    return {
        "total": len(rows),
        "by_channel": dict(sorted(Counter(r.channel for r in rows).items())),
        "by_tier": dict(sorted(Counter(r.tier for r in rows).items())),
        "by_state": dict(sorted(Counter(r.state for r in rows).items())),
        "by_channel_and_tier": [
            {"channel": c, "tier": t, "count": n} for (c, t), n in sorted(pairs.items())
        ],
    }


def _dual_control(completed: list[Any], approvers: dict[str, set[str]]) -> dict[str, Any]:
    dual = sum(1 for r in completed if approvers.get(r.id))
    return {
        "completed": len(completed),
        "with_independent_approval": dual,
        "share": round(dual / len(completed), 4) if completed else None,
    }


def _time_to_restore(completed: list[Any]) -> dict[str, Any]:
    seconds = [
        (aware(r.validated_at) - aware(r.opened_at)).total_seconds()
        for r in completed
        if r.validated_at is not None
    ]
    return {
        "completed": len(seconds),
        "median_s": statistics.median(seconds) if seconds else None,
        "p95_s": percentile(seconds, 0.95),
        "max_s": max(seconds) if seconds else None,
    }


def _proofing(conn: Connection, period: Period) -> dict[str, Any]:
    rows = list(conn.execute(select(proofs).where(_within(proofs.c.at, period))))
    failed = Counter(r.method for r in rows if not r.passed)
    passed = Counter(r.method for r in rows if r.passed)
    return {
        "attempts": len(rows),
        "failures": sum(failed.values()),
        "failures_by_method": dict(sorted(failed.items())),
        "passes_by_method": dict(sorted(passed.items())),
        "phishing_resistant_passes": sum(1 for r in rows if r.passed and r.phishing_resistant),
    }


def _propagation(conn: Connection, period: Period, entries: list[dict[str, Any]]) -> dict[str, Any]:
    failed_attempts: Counter[str] = Counter()
    for e in entries:
        if str(e["type"]).startswith("propagation:receipt:") and e["outcome"] != "success":
            failed_attempts[str((e.get("data") or {}).get("target", "?"))] += 1
    rows = list(conn.execute(select(receipts).where(_within(receipts.c.created_at, period))))
    by_target: dict[str, Counter[str]] = {}
    for r in rows:
        by_target.setdefault(r.target, Counter())[r.state] += 1
    return {
        "receipts": len(rows),
        "failed_attempts_by_target": dict(sorted(failed_attempts.items())),
        "failed_receipts_by_target": {
            t: c["failed"] for t, c in sorted(by_target.items()) if c["failed"]
        },
        "receipts_by_target": {t: dict(sorted(c.items())) for t, c in sorted(by_target.items())},
    }


def _secrets_left(conn: Connection, completed: list[Any]) -> int:
    ids = [r.id for r in completed]
    return len(_for_cases(conn, sealed_secrets, ids))


def _sod(rows: list[Any], approvers: dict[str, set[str]]) -> dict[str, Any]:
    """Cases where an approver is also the requester, the executor or the
    subject: the domain refuses these, so any count above 0 is a finding."""
    violations = [
        r.id
        for r in rows
        if approvers.get(r.id, set()) & {r.requester_person, r.executor_person, r.subject_id}
    ]
    needing = [r for r in rows if _approvals_needed(r) > 0]
    quorum_met = sum(1 for r in needing if len(approvers.get(r.id, set())) >= _approvals_needed(r))
    return {
        "violations": len(violations),
        "violating_cases": violations,
        "cases_requiring_approval": len(needing),
        "cases_with_quorum": quorum_met,
        "approvals_recorded": sum(len(v) for v in approvers.values()),
    }


def _approvals_needed(row: Any) -> int:
    """The approval quorum the case's tier froze (``requirements`` is JSON)."""
    req = row.requirements if isinstance(row.requirements, dict) else json.loads(row.requirements)
    return int(req.get("approvals", 0))


REQUIRED_FIELDS = ("type", "time", "actor", "outcome", "id")


def _audit_trail(entries: list[dict[str, Any]], types: Counter[str]) -> dict[str, Any]:
    incomplete = sum(1 for e in entries if any(not e.get(f) for f in REQUIRED_FIELDS))
    by_source = Counter(str(e["type"]).split(":", 1)[0] for e in entries)
    return {
        "entries": len(entries),
        "incomplete_entries": incomplete,
        "event_types": len(types),
        "by_source": dict(sorted(by_source.items())),
        "proofing_attempts_logged": types["proofing:case:attempted"],
        "admin_actions_logged": sum(n for t, n in types.items() if t.startswith("admin:")),
    }


def _governance(rows: list[Any], entries: list[dict[str, Any]]) -> dict[str, Any]:
    actors = Counter(str(e.get("actor", "")).split(":", 1)[0] for e in entries)
    return {
        "policy_versions": sorted({r.policy_hash for r in rows}),
        "risk_bands": dict(sorted(Counter(r.risk_band for r in rows).items())),
        "actions_by_actor_kind": dict(sorted(actors.items())),
        "self_service_executed_by_system": sum(
            1 for r in rows if r.channel == "self_service" and r.executed_at is not None
        ),
    }
