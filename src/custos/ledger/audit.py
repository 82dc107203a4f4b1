"""``custos audit verify`` as a service: verify the ledger against the stored
heads, the witness file and the key ring; record the outcome in the ledger
(``audit:ledger:verified`` or ``audit:ledger:tamper_detected``) and, on a break,
POST a signed security webhook (R-38).

For reports and dashboards, :func:`latest_verification` returns the last
recorded outcome without re-reading the ledger.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from sqlalchemy import select

from custos.domain.events import DomainEvent, EventType, Outcome
from custos.ledger import witness
from custos.ledger.heads import key_ring, stored_heads
from custos.ledger.parallel import default_workers
from custos.ledger.signing import TreeHead
from custos.ledger.tree_store import StoredTree
from custos.ledger.verify import Problem, Progress, VerificationReport, verify_ledger
from custos.notify.webhook import post_signed
from custos.service.ports import Services
from custos.store.tables import ledger

log = structlog.get_logger("custos.ledger.audit")

#: How many problems an alert event or webhook lists (the CLI shows all).
LISTED = 20


def verify(
    svc: Services, *, progress: Progress | None = None, workers: int = 1
) -> VerificationReport:
    """Verify without recording anything (read-only). ``workers > 1`` forks
    that many scanning processes: see :mod:`custos.ledger.parallel` for what
    the calling process must then guarantee."""
    witnessed: list[TreeHead] = []
    unreadable: list[str] = []
    if svc.settings.ledger_witness_file is not None:
        witnessed, unreadable = witness.read_file(svc.settings.ledger_witness_file)
    keys = key_ring(svc).public_keys()
    with svc.uow() as uow:
        total = StoredTree(uow.conn).size()
        report = verify_ledger(
            uow.conn,
            keys,
            stored_heads(uow.conn),
            witnessed,
            total=total,
            progress=progress,
            workers=workers,
        )
    report.problems.extend(Problem("witness_unreadable", line) for line in unreadable)
    return report


def audit_ledger(
    svc: Services,
    *,
    actor: str = "cli:local",
    progress: Progress | None = None,
    workers: int | None = None,
) -> VerificationReport:
    """Verify, record the outcome as a ledger event, and alert on a break: the
    ``audit:ledger:tamper_detected`` event and a webhook to
    ``security_webhook_url`` signed with ``security_webhook_secret``. Never
    raises for a failed alert (it is logged); returns the report.

    Scans with ``workers`` processes, by default one per available CPU (this
    is the ``custos audit verify`` command; a caller with threads of its own
    inside SQLite, libpq or OpenSSL passes ``workers=1``)."""
    count = default_workers() if workers is None else workers
    report = verify(svc, progress=progress, workers=count)
    summary = {
        "entries": report.entries,
        "root_hash": report.root_hash,
        "heads_checked": report.heads_checked,
        "witnessed_checked": report.witnessed_checked,
        "problem_count": len(report.problems),
        "problems": [p.to_json() for p in report.problems[:LISTED]],
    }
    event = DomainEvent(
        type=EventType.LEDGER_VERIFIED if report.ok else EventType.LEDGER_TAMPER_DETECTED,
        occurred_at=svc.clock.now(),
        actor=actor,
        subject_id=None,
        case_id=None,
        outcome=Outcome.SUCCESS if report.ok else Outcome.FAILURE,
        reason="" if report.ok else f"{len(report.problems)} integrity problem(s) found",
        data=summary,
    )
    try:
        with svc.uow() as uow:
            uow.ledger.append([event])
            uow.commit()
    except Exception:  # a wrecked store must not swallow the alert below
        log.exception("ledger_audit_event_failed")
    if not report.ok:
        log.error("ledger_tamper_detected", problems=len(report.problems))
        send_security_alert(
            svc, {"type": str(event.type), "time": event.canonical()["time"], **summary}
        )
    return report


def send_security_alert(svc: Services, payload: dict[str, Any]) -> bool:
    """POST ``payload`` to the security webhook, if one is configured; True when
    it was delivered."""
    url = svc.settings.security_webhook_url
    if url is None:
        return False
    secret = svc.settings.security_webhook_secret
    if secret is None:
        log.error("security_webhook_unsigned", problem="security_webhook_secret is not set")
        return False
    return post_signed(url, secret.get_secret_value().encode("utf-8"), payload)


def latest_verification(svc: Services) -> dict[str, Any] | None:
    """The last recorded ``audit verify`` outcome: ``{"ok", "time", "entries",
    "problem_count", "problems", ...}``, or None when the ledger was never
    verified. Cheap: one indexed query."""
    types = [str(EventType.LEDGER_VERIFIED), str(EventType.LEDGER_TAMPER_DETECTED)]
    with svc.uow() as uow:
        row = uow.conn.execute(
            select(ledger.c.canonical)
            .where(ledger.c.type.in_(types))
            .order_by(ledger.c.seq.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    entry = json.loads(row.canonical)
    return {
        "ok": entry["type"] == str(EventType.LEDGER_VERIFIED),
        "time": entry["time"],
        "actor": entry["actor"],
        **entry["data"],
    }
