"""The Temporary Access Pass of a reissue, on the worker's side
(docs/policy.md#temporary_access_pass).

When a ``reissue`` tier has ``temporary_access_pass`` and a target that issues
one (Entra ID) has had the account's factors removed, the worker calls
:func:`issue_after_reset` in the same attempt: Graph makes the pass, which is
sealed at once under its case and row (``seal_contexts.temporary_access_pass``)
and reaches the subject only through a one-time link mailed to their confirmed
addresses (:mod:`tap_links`). The ledger records that a pass was issued (target,
account, lifetime), never its value; nothing logs it.

A failure to issue is the receipt's failure: retried with the receipt (Graph's
429 and 5xx are retried inside the call first), then the case goes to
needs_attention naming the target and why, never "passed".

:func:`clean_up` (every worker pass) deletes a pass on its target when it can
no longer serve: its link lapsed unopened, or its case ended without completing
(cancelled, denied, expired; opened or not), or, with ``delete_on_completion``, once the case
completed and the pass's lifetime ran out. Each deletion is one ledger event.

The ``factors_removed`` check reads second factors only (``bound_factors``),
and a pass is none (Graph's TAP type has no factor kind), so the pass issued
here never fails it; any older pass was deleted with the factors before.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from custos.connectors.entra_methods import TemporaryAccessPass
from custos.connectors.errors import ConnectorError
from custos.connectors.spi import TemporaryAccessPassOp
from custos.credentials import seal_contexts
from custos.credentials.tokens import issue_token
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import SYSTEM_ACTOR, Case, ContactKind
from custos.domain.states import TERMINAL, CaseState
from custos.notify.tap_messages import tap_link
from custos.policy.temporary_access_pass import TemporaryAccessPassSetting
from custos.service.notices import dispatch as notices
from custos.service.ports import Services
from custos.store.receipt_repository import Receipt
from custos.store.tap_repository import IssuedPass, TapRepository

log = structlog.get_logger("custos.worker.tap")

#: The token prefix of the subject's one-time link to the pass.
LINK_PREFIX = "ctp"
#: The connector operation (``connectors.spi.TemporaryAccessPassOp``).
OPERATION = "temporary_access_pass"


def setting_of(svc: Services, case: Case) -> TemporaryAccessPassSetting | None:
    """The case's tier's ``temporary_access_pass`` (None: the tier has none,
    or the case is no reissue, or the tier is gone from the policy)."""
    try:
        return svc.policy.document.tier(case.requirements.tier).temporary_access_pass
    except KeyError:
        return None


def issue_after_reset(svc: Services, receipt: Receipt) -> tuple[ConnectorError | None, str]:
    """Issue the pass on ``receipt``'s account when its tier says so and its
    target offers it (the account's factors were just removed); returns the
    error (the receipt's) or what to add to the receipt's answer."""
    if not svc.registry.offers(receipt.target, OPERATION):
        return None, ""
    with svc.uow(read_only=True) as uow:
        case = uow.cases.get(receipt.case_id)
        setting = setting_of(svc, case)
        if setting is None:
            return None, ""
        if TapRepository(uow.conn).live_for(case.id, receipt.target, receipt.account_id):
            return None, "; Temporary Access Pass already issued"
        subject = uow.subjects.get(case.subject_id)
        contacts = subject.confirmed_contacts(ContactKind.EMAIL) if subject else []
    if not contacts:
        return ConnectorError(
            "Temporary Access Pass not issued: the subject has no confirmed email "
            "address to receive its one-time link"
        ), ""
    connector = svc.registry.operation(receipt.target, OPERATION)
    assert isinstance(connector, TemporaryAccessPassOp)
    try:
        issued = connector.issue_temporary_access_pass(
            receipt.account_id,
            usable_once=setting.usable_once,
            lifetime_minutes=setting.lifetime_minutes,
        )
    except ConnectorError as exc:
        return _not_issued(exc), ""
    try:
        _keep(svc, case, receipt, setting, issued, [c.address for c in contacts])
    except Exception:
        # Never leave a pass on the target that no one can reach.
        log.exception("tap_not_stored", case=case.id, target=receipt.target)
        _withdraw(connector, receipt)
        return ConnectorError(
            "Temporary Access Pass not stored in Custos; deleted on the target again"
        ), ""
    finally:
        del issued
    uses = "one sign-in" if setting.usable_once else "several sign-ins"
    return None, f"; Temporary Access Pass issued ({setting.lifetime_minutes} min, {uses})"


def _not_issued(exc: ConnectorError) -> ConnectorError:
    """The same kind of error (so retryable stays retryable), saying what failed."""
    words = f"Temporary Access Pass not issued: {exc.answer}"
    try:
        return type(exc)(words)
    except TypeError:
        return ConnectorError(words)


def _withdraw(connector: TemporaryAccessPassOp, receipt: Receipt) -> None:
    try:
        connector.delete_temporary_access_passes(receipt.account_id)
    except ConnectorError as exc:
        log.warning("tap_withdraw_failed", target=receipt.target, error=exc.answer)


def _keep(
    svc: Services,
    case: Case,
    receipt: Receipt,
    setting: TemporaryAccessPassSetting,
    issued: TemporaryAccessPass,
    addresses: list[str],
) -> None:
    """Seal the pass, record that it was issued and queue the subject's link,
    in one transaction."""
    now = svc.clock.now()
    token = issue_token(LINK_PREFIX)
    # The link lives as long as the pass: after that it could show nothing usable.
    expires_at = now + timedelta(minutes=issued.lifetime_minutes)
    with svc.uow() as uow:
        repo = TapRepository(uow.conn)
        row_id = repo.add(
            case_id=case.id,
            subject_id=case.subject_id,
            target=receipt.target,
            account_id=receipt.account_id,
            method_id=issued.method_id,
            lifetime_minutes=issued.lifetime_minutes,
            usable_once=issued.usable_once,
            delete_on_completion=setting.delete_on_completion,
            digest=token.digest,
            now=now,
            link_expires_at=expires_at,
        )
        aad = seal_contexts.temporary_access_pass(case.id, row_id)
        repo.put_sealed(row_id, svc.sealer.seal(issued.secret, aad=aad))
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.TAP_ISSUED,
                    occurred_at=now,
                    actor=SYSTEM_ACTOR,
                    subject_id=case.subject_id,
                    case_id=case.id,
                    reason="Temporary Access Pass issued after the factors were removed",
                    data={
                        "target": receipt.target,
                        "account": receipt.account_id,
                        "lifetime_minutes": issued.lifetime_minutes,
                        "usable_once": issued.usable_once,
                        "link_expires_at": expires_at.isoformat(),
                        "delivered_to": len(addresses),
                    },
                )
            ]
        )
        link = f"{svc.settings.public_origin}/temporary-access-pass#token={token.plain}"
        minutes = issued.lifetime_minutes
        batch = [
            tap_link(
                to=address,
                case_id=case.id,
                target=receipt.target,
                account=receipt.account_id,
                link=link,
                minutes=minutes,
                lifetime=issued.lifetime_minutes,
            )
            for address in addresses
        ]
        notices.queue(svc, uow, batch, subject_id=case.subject_id)
        uow.commit()
    log.info("tap_issued", case=case.id, target=receipt.target, lifetime=issued.lifetime_minutes)


# -- clean-up --------------------------------------------------------------------------
#: Case states in which an issued pass has nothing left to serve.
ENDED = TERMINAL - {CaseState.COMPLETED}


def _why_delete(item: IssuedPass, state: CaseState | None, now: datetime) -> str | None:
    if state is not None and state in ENDED:
        return f"the case ended {state}"
    if item.retrieved_at is None and item.link_expires_at <= now:
        return "the one-time link lapsed unopened"
    lapsed = item.issued_at + timedelta(minutes=item.lifetime_minutes) <= now
    if item.delete_on_completion and state == CaseState.COMPLETED and lapsed:
        return "the case completed and the pass's lifetime ran out (delete_on_completion)"
    return None


def clean_up(svc: Services) -> int:
    """Delete the passes that can no longer serve on their targets (see the
    module); returns how many were deleted."""
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        pending = TapRepository(uow.conn).undeleted({str(s) for s in ENDED})
        if not pending:
            return 0
        cases = uow.cases.get_many(sorted({p.case_id for p in pending}))
    done = 0
    for item in pending:
        case = cases.get(item.case_id)
        reason = _why_delete(item, case.state if case else None, now)
        if reason is not None:
            done += _delete(svc, item, reason, now)
    return done


def _delete(svc: Services, item: IssuedPass, reason: str, now: datetime) -> int:
    if not svc.registry.offers(item.target, OPERATION):
        log.warning("tap_delete_impossible", case=item.case_id, target=item.target)
        return 0
    connector = svc.registry.operation(item.target, OPERATION)
    assert isinstance(connector, TemporaryAccessPassOp)
    try:
        deleted = connector.delete_temporary_access_passes(item.account_id)
    except ConnectorError as exc:  # tried again on the next pass
        log.warning("tap_delete_failed", case=item.case_id, target=item.target, error=exc.answer)
        return 0
    with svc.uow() as uow:
        if not TapRepository(uow.conn).mark_deleted(item.id, now=now, reason=reason):
            return 0
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.TAP_DELETED,
                    occurred_at=now,
                    actor=SYSTEM_ACTOR,
                    subject_id=item.subject_id,
                    case_id=item.case_id,
                    reason=reason,
                    data={"target": item.target, "account": item.account_id, "deleted": deleted},
                )
            ]
        )
        uow.commit()
    log.info("tap_deleted", case=item.case_id, target=item.target, deleted=deleted)
    return 1
