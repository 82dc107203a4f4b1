"""Interactive use of a service credential (R-42): where a target records the
logons of an account (Active Directory: ``logonCount``, ``lastLogon``), Custos
reads them and flags every service account that logged on, with a ledger event
naming the target and when; where a target cannot report logons, the report
says so for that target instead of staying silent. AD counts interactive and
network logons alike: a flag is a lead for the operator to attribute, not a
verdict."""

from __future__ import annotations

from dataclasses import dataclass

from custos.connectors.errors import ConnectorError
from custos.connectors.spi import InteractiveUseOp
from custos.domain.errors import NotFound
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import SubjectKind
from custos.service.ports import Services
from custos.service.service_accounts.errors import NotAServiceAccount

FLAGGED = "flagged"
NO_LOGON = "no_logon"
CANNOT_REPORT = "cannot_report"
UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class UseReport:
    target: str
    account_id: str
    status: str
    detail: str


def check(svc: Services, *, service_id: str, actor: str) -> list[UseReport]:
    """One report per linked account of the service account; every flag is
    recorded in the ledger. Raises NotFound, NotAServiceAccount."""
    with svc.uow(read_only=True) as uow:
        service = uow.subjects.get(service_id)
    if service is None:
        raise NotFound(f"no subject '{service_id}'", subject_id=service_id)
    if service.kind != SubjectKind.SERVICE:
        raise NotAServiceAccount(f"'{service_id}' is not a service account")
    reports = []
    for account in service.accounts:
        if not svc.registry.offers(account.target, "interactive_use"):
            reports.append(
                UseReport(
                    account.target,
                    account.account_id,
                    CANNOT_REPORT,
                    f"the connector for '{account.target}' cannot report logons",
                )
            )
            continue
        connector = svc.registry.get(account.target).connector
        assert isinstance(connector, InteractiveUseOp)
        try:
            use = connector.interactive_use(account.account_id)
        except ConnectorError as exc:
            reports.append(UseReport(account.target, account.account_id, UNREADABLE, str(exc)))
            continue
        if use.logons > 0 or use.last_logon is not None:
            when = use.last_logon.isoformat() if use.last_logon else "unknown"
            detail = f"{use.logons} logon(s), the last at {when} ({use.source})"
            reports.append(UseReport(account.target, account.account_id, FLAGGED, detail))
        else:
            reports.append(
                UseReport(account.target, account.account_id, NO_LOGON, f"none ({use.source})")
            )
    flagged = [r for r in reports if r.status == FLAGGED]
    if flagged:
        now = svc.clock.now()
        with svc.uow() as uow:
            uow.ledger.append(
                [
                    DomainEvent(
                        type=EventType.SERVICE_INTERACTIVE_USE,
                        occurred_at=now,
                        actor=actor,
                        subject_id=service_id,
                        case_id=None,
                        outcome=Outcome.FAILURE,
                        reason=r.detail,
                        data={"target": r.target, "account": r.account_id},
                    )
                    for r in flagged
                ]
            )
            uow.commit()
    return reports
