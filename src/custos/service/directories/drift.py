"""``custos drift``: read back every target of recent recoveries and report where
the last recovery did not land (a password changed elsewhere since is fine; a
change time before the recovery is drift)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from custos.connectors.errors import ConnectorError
from custos.connectors.spi import ReadPasswordChangedOp
from custos.domain.events import DomainEvent, EventType
from custos.domain.states import CaseState
from custos.propagation.verification import CLOCK_SKEW
from custos.service.ports import Services
from custos.store.mapping import aware
from custos.store.receipt_repository import ReceiptState
from custos.store.tables import cases, receipts, reset_tokens


@dataclass(frozen=True, slots=True)
class DriftFinding:
    case_id: str
    subject_id: str
    target: str
    account_id: str
    status: str  # landed | drifted | failed | unknown
    detail: str


def _recent_receipts(
    svc: Services, since: datetime
) -> list[tuple[str, str, str, str, str, datetime]]:
    query = (
        select(
            cases.c.id,
            cases.c.subject_id,
            receipts.c.target,
            receipts.c.account_id,
            receipts.c.state,
            reset_tokens.c.consumed_at,
        )
        .select_from(
            cases.join(receipts, receipts.c.case_id == cases.c.id).join(
                reset_tokens, reset_tokens.c.case_id == cases.c.id
            )
        )
        .where(
            cases.c.state.in_(
                [
                    str(CaseState.COMPLETED),
                    str(CaseState.NEEDS_ATTENTION),
                    str(CaseState.VERIFYING),
                    str(CaseState.EXECUTING),
                ]
            ),
            cases.c.updated_at >= since,
            reset_tokens.c.consumed_at.is_not(None),
        )
        .order_by(cases.c.updated_at)
    )
    with svc.uow() as uow:
        rows = [
            (r.id, r.subject_id, r.target, r.account_id, r.state, aware(r.consumed_at))
            for r in uow.conn.execute(query)
        ]
    # Only the latest recovery of each account says what should be there now.
    latest: dict[tuple[str, str], tuple[str, str, str, str, str, datetime]] = {}
    for row in rows:
        latest[(row[2], row[3])] = row
    return list(latest.values())


def check_drift(
    svc: Services, *, days: int = 7, tick: Callable[[str], None] = lambda _: None
) -> list[DriftFinding]:
    since = svc.clock.now() - timedelta(days=days)
    findings: list[DriftFinding] = []
    for case_id, subject_id, target, account, state, redeemed in _recent_receipts(svc, since):
        tick(f"{target}/{account}")
        finding = _check(svc, case_id, subject_id, target, account, state, redeemed)
        findings.append(finding)
    with svc.uow() as uow:
        counts = {
            s: sum(1 for f in findings if f.status == s)
            for s in ("landed", "drifted", "failed", "unknown")
        }
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.DRIFT_CHECKED,
                    occurred_at=svc.clock.now(),
                    actor="cli:local",
                    subject_id=None,
                    case_id=None,
                    data={"days": days, **counts},
                )
            ]
        )
        uow.commit()
    return findings


def _check(
    svc: Services,
    case_id: str,
    subject_id: str,
    target: str,
    account: str,
    state: str,
    redeemed: datetime,
) -> DriftFinding:
    def finding(status: str, detail: str) -> DriftFinding:
        return DriftFinding(case_id, subject_id, target, account, status, detail)

    if state != ReceiptState.SUCCEEDED:
        return finding("failed", f"the recovery never reached this account ({state})")
    if (
        not svc.registry.has(target)
        or "read_password_changed" not in svc.registry.get(target).capabilities
    ):
        return finding("unknown", "the target cannot report password-change times")
    connector = svc.registry.get(target).connector
    assert isinstance(connector, ReadPasswordChangedOp)
    try:
        changed = connector.password_changed_at(account)
    except ConnectorError as exc:
        return finding("unknown", f"read-back failed: {exc.answer}")
    if changed is None or changed < redeemed - CLOCK_SKEW:
        when = changed.isoformat() if changed else "never"
        return finding(
            "drifted",
            f"password last changed {when}, before the recovery at {redeemed.isoformat()}",
        )
    return finding("landed", f"password changed at {changed.isoformat()}")
