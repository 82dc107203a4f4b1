"""Old credentials during a rotation's grace period (R-40; docs/service-accounts.md).

A ``rotate`` case's receipt on a target that can hold two credentials
(``GraceRotationOp``) sets the new value and keeps the old one; the worker
records when the old one must stop (the case's grace period) and, once that
time has passed, revokes it through the connector and records the revocation
only after the connector read back that it is gone. A failed revocation is
recorded as such and retried on the next pass: a revocation that did not
happen is never reported. On every other target the new value replaced the
old one at once, and the case says so."""

from __future__ import annotations

from datetime import datetime, timedelta

from custos.connectors.errors import ConnectorError
from custos.connectors.spi import GraceRotationOp
from custos.credentials import seal_contexts
from custos.domain.errors import DomainError
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import SYSTEM_ACTOR, Case
from custos.service.ports import Services
from custos.store.receipt_repository import Receipt
from custos.store.unit_of_work import UnitOfWork

#: The capability a target needs to keep the old credential for a grace period.
CAPABILITY = "grace_rotation"


def keeps_previous(svc: Services, target: str) -> bool:
    return svc.registry.offers(target, CAPABILITY)


def write_keeping_previous(
    svc: Services, receipt: Receipt, sealed: tuple[bytes, bool] | None
) -> tuple[ConnectorError | None, str]:
    """Set the case's value on ``receipt``'s account, keeping the old one."""
    if sealed is None:
        return ConnectorError("the case holds no secret any more (wiped or cancelled)"), ""
    try:
        connector = svc.registry.operation(receipt.target, CAPABILITY)
        assert isinstance(connector, GraceRotationOp)
        secret = svc.sealer.unseal(sealed[0], aad=seal_contexts.case_secret(receipt.case_id))
        answer = connector.set_password_keeping_previous(receipt.account_id, secret)
        del secret
        return None, answer
    except ConnectorError as exc:
        return exc, ""
    except DomainError as exc:
        return ConnectorError(exc.message), ""


def record_write(
    svc: Services, uow: UnitOfWork, case: Case, receipt: Receipt, now: datetime
) -> None:
    """After a succeeded receipt of a rotate case: the grace period that started,
    or the statement that the old credential stopped at once."""
    if keeps_previous(svc, receipt.target):
        record = uow.rotations.for_case(case.id)
        grace = timedelta(seconds=record.grace_s if record else 0)
        revoke_after = now + grace
        uow.rotations.keep(
            case_id=case.id,
            target=receipt.target,
            account_id=receipt.account_id,
            now=now,
            revoke_after=revoke_after,
        )
        case.emit(
            EventType.CREDENTIAL_GRACE_STARTED,
            at=now,
            actor=SYSTEM_ACTOR,
            reason=f"'{receipt.target}' keeps the old credential until {revoke_after.isoformat()}",
            data={
                "target": receipt.target,
                "account": receipt.account_id,
                "revoke_after": revoke_after.isoformat(),
            },
        )
        return
    case.emit(
        EventType.CREDENTIAL_REPLACED_AT_ONCE,
        at=now,
        actor=SYSTEM_ACTOR,
        reason=(
            f"'{receipt.target}' cannot hold two credentials for one account: the old one "
            "stopped working when the new one was set; no grace period (R-40)"
        ),
        data={"target": receipt.target, "account": receipt.account_id},
    )


def revoke_due(svc: Services) -> int:
    """Revoke every old credential whose grace period ended; returns how many
    were revoked (read back by the connector)."""
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        due = uow.rotations.due_graces(now)
    revoked = 0
    for grace in due:
        try:
            connector = svc.registry.operation(grace.target, CAPABILITY)
            assert isinstance(connector, GraceRotationOp)
            had = connector.revoke_previous(grace.account_id)
            answer, error = (
                ("old credential revoked" if had else "no old credential was held any more"),
                None,
            )
        except (ConnectorError, DomainError) as exc:
            answer, error = str(exc), exc
        with svc.uow() as uow:
            service_id = _service_of(uow, grace.case_id)
            if error is None and uow.rotations.revoked(grace.id, now=now, answer=answer):
                revoked += 1
                kind, outcome = EventType.CREDENTIAL_OLD_REVOKED, Outcome.SUCCESS
            elif error is None:
                continue  # another worker recorded it first
            else:
                uow.rotations.note(grace.id, answer)
                kind, outcome = EventType.CREDENTIAL_REVOKE_FAILED, Outcome.FAILURE
            uow.ledger.append(
                [
                    DomainEvent(
                        type=kind,
                        occurred_at=now,
                        actor=SYSTEM_ACTOR,
                        subject_id=service_id,
                        case_id=grace.case_id,
                        outcome=outcome,
                        reason=answer,
                        data={"target": grace.target, "account": grace.account_id},
                    )
                ]
            )
            uow.commit()
    return revoked


def _service_of(uow: UnitOfWork, case_id: str) -> str | None:
    record = uow.rotations.for_case(case_id)
    return record.service_id if record else None
