"""Fraud flags (R-43): an agent flags a case, or the subject repudiates it with
the "this wasn't me" link of a recovery notice (R-22). Either way, in one
transaction:

1. the case moves to ``blocked`` when the state machine allows it (from opened,
   proofing, awaiting_approval, approved, credential_issued); from any other
   state it stays where it is (there is no move to ``blocked`` from executing,
   verifying, needs_attention or a terminal state), and the steps below still run;
2. every live reset link of the subject is voided;
3. the sealed new password is wiped if still held, so unfinished propagation
   stops (its receipts fail and ``retry`` has nothing to send);
4. every unused repudiation link of the case is spent;
5. the subject gets a ``fraud`` hold (a record of its own, docs/holds.md; one
   is enough: a standing one is not doubled), so every new recovery is refused
   and the subject's other open cases wait in ``blocked`` until a security
   approver other than the one who flagged lifts it; the flagged case itself
   stays blocked when the hold is lifted;
6. a ``case:fraud:flagged`` ledger event records who flagged, why, and what was done.

In the same transaction, a security alert to ``security_address`` (kind
``repudiated``) and, when configured, the signed security webhook (kind
``fraud_flagged``) are written to the notice outbox; the worker's sweep sends
them once committed, the webhook retried while its receiver is down
(``service/notices/webhooks.py``). See docs/notifications.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import structlog

from custos.credentials.tokens import looks_like_token, token_digest
from custos.domain import sod
from custos.domain.errors import InvalidInput, NotAuthorized, NotFound
from custos.domain.events import EventType
from custos.domain.model import SYSTEM_ACTOR, Case, Hold, Operator, Role, Subject, subject_actor
from custos.domain.states import CaseState, can_move
from custos.notify import messages
from custos.service.holds.commands import place_hold
from custos.service.notices import dispatch as notices
from custos.service.notices.webhooks import queue_security_webhook
from custos.service.oversight import refusals
from custos.service.ports import Services
from custos.service.recovery.case_transaction import hidden_case
from custos.store.unit_of_work import UnitOfWork

log = structlog.get_logger("custos.fraud")

MAX_REASON: Final = 2000
#: The one answer to every repudiation, valid or not: it reveals nothing (R-19).
REPUDIATION_ANSWER: Final = (
    "Thank you. If this link was valid, the recovery has been stopped and your "
    "security team has been told. Contact them if you have not heard from them."
)
REPUDIATION_REASON: Final = "the subject repudiated the recovery ('this wasn't me')"


def repudiate(svc: Services, *, token: str) -> None:
    """Flag the case behind a repudiation token. Returns None whatever happened:
    an unknown, used, expired or malformed token does nothing and looks the same
    to the caller."""
    if not looks_like_token(token, prefix=notices.REPUDIATION_PREFIX):
        return
    digest = token_digest(token)
    now = svc.clock.now()
    with svc.uow() as uow:
        case_id = uow.repudiations.use(digest, now=now)
        if case_id is None:
            return
        case = uow.cases.get(case_id, for_update=True)
        subject = uow.subjects.get(case.subject_id)
        assert subject is not None  # cases reference subjects by foreign key
        _flag(
            svc,
            uow,
            case,
            subject,
            actor=subject_actor(subject.id),
            person=subject.id,
            flagged_by="the subject, through the link in a recovery notice",
            source="repudiation_link",
            reason=REPUDIATION_REASON,
            now=now,
        )
        uow.cases.save(case)
        uow.commit()


def flag_fraud(svc: Services, operator: Operator, case_id: str, *, reason: str) -> Case:
    """An operator with the requester or approver role, whose scope covers the
    subject, flags the case. Works in every state (see the module docstring).
    Raises NotFound, NotAuthorized, OutOfScope, SeparationOfDuties, InvalidInput."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(f"a fraud flag needs a reason of 1 to {MAX_REASON} characters")
    if not (operator.has_role(Role.REQUESTER) or operator.has_role(Role.APPROVER)):
        raise NotAuthorized(
            f"operator '{operator.name}' needs the requester or approver role to flag fraud"
        )
    now = svc.clock.now()
    with (
        refusals.attempt(
            svc,
            actor=operator.actor,
            action="flag_fraud",
            case_id=case_id,
            hidden=hidden_case(case_id),
        ),
        svc.uow() as uow,
    ):
        # No expiry check first: a case that just ran out may still be flagged.
        case = uow.cases.get(case_id, for_update=True)
        subject = uow.subjects.get(case.subject_id)
        if subject is None:
            raise NotFound(f"no subject '{case.subject_id}'")
        sod.check_scope(operator, subject)
        sod.check_not_subject(operator, subject)
        _flag(
            svc,
            uow,
            case,
            subject,
            actor=operator.actor,
            person=operator.person,
            flagged_by=f"operator {operator.name} ({operator.id})",
            source="operator",
            reason=reason,
            now=now,
        )
        uow.cases.save(case)
        uow.commit()
    return case


def _flag(
    svc: Services,
    uow: UnitOfWork,
    case: Case,
    subject: Subject,
    *,
    actor: str,
    person: str,
    flagged_by: str,
    source: str,
    reason: str,
    now: datetime,
) -> None:
    before = case.state
    blocked = can_move(before, CaseState.BLOCKED)
    if blocked:
        case.move(CaseState.BLOCKED, at=now, actor=actor, reason=f"fraud flag: {reason}")
    # Blocked by the flag itself (or already by a hold): lifting holds does not free it.
    case.keep_blocked()
    voided = uow.tokens.void_live(subject.id, now=now, reason="fraud flagged")
    wiped = uow.secrets.wipe(case.id)
    if wiped:
        case.emit(EventType.SECRET_WIPED, at=now, actor=SYSTEM_ACTOR, reason="fraud flagged")
    uow.repudiations.use_all(case.id, now=now)
    hold_id, froze = _fraud_hold(
        uow, case, subject, actor=actor, person=person, reason=reason, now=now
    )
    case.emit(
        EventType.FRAUD_FLAGGED,
        at=now,
        actor=actor,
        reason=reason,
        data={
            "source": source,
            "state_before": str(before),
            "blocked": blocked,
            "tokens_voided": voided,
            "secret_wiped": wiped,
            "hold": str(Hold.FRAUD),
            "hold_id": hold_id,
            "hold_added": froze,
        },
    )
    actions = [
        f"case moved from {before} to blocked"
        if blocked
        else f"case left in '{before}': there is no move to blocked from there",
        f"{voided} live reset link(s) voided",
        "sealed new password wiped: unfinished propagation stops"
        if wiped
        else "no sealed password was held",
        f"subject placed under a fraud hold ({hold_id})"
        if froze
        else f"subject was already under a fraud hold ({hold_id})",
    ]
    _alert_security(
        svc,
        uow,
        case=case,
        subject_id=subject.id,
        flagged_by=flagged_by,
        source=source,
        reason=reason,
        before=before,
        actions=actions,
        now=now,
    )


def _fraud_hold(
    uow: UnitOfWork,
    case: Case,
    subject: Subject,
    *,
    actor: str,
    person: str,
    reason: str,
    now: datetime,
) -> tuple[str, bool]:
    """The subject's standing fraud hold, set now (ticket: the flagged case)
    unless one already stands on the subject itself; its id and whether it is
    new. The other open cases of the subject are blocked with it."""
    for hold in uow.holds.standing_on(subject.id, frozenset(), now):
        if hold.kind == Hold.FRAUD:
            return hold.id, False
    change = place_hold(
        uow,
        kind=str(Hold.FRAUD),
        subject_id=subject.id,
        group=None,
        reason=f"fraud flagged on case {case.id}: {reason}",
        ticket=case.id,
        set_by=actor,
        set_by_person=person,
        now=now,
        skip_cases=(case.id,),
    )
    return change.hold.id, True


def _alert_security(
    svc: Services,
    uow: UnitOfWork,
    *,
    case: Case,
    subject_id: str,
    flagged_by: str,
    source: str,
    reason: str,
    before: CaseState,
    actions: list[str],
    now: datetime,
) -> None:
    """Queue the alert mail (kind ``repudiated``) and the signed webhook in the
    outbox, in the flag's transaction: both leave only after the commit, sent
    by the worker's sweep (R-43, R-22)."""
    address = svc.settings.security_address
    if address is None:
        log.warning("security_address_unset", case=case.id, alert="fraud_flagged")
    else:
        alert = messages.repudiated(
            to=address,
            case_id=case.id,
            subject_id=subject_id,
            flagged_by=flagged_by,
            source=source,
            reason=reason,
            at=now,
            state_before=str(before),
            state_after=str(case.state),
            actions=actions,
        )
        notices.queue(svc, uow, [alert], subject_id=subject_id)
    payload: dict[str, Any] = {
        "type": str(EventType.FRAUD_FLAGGED),
        "time": now.isoformat(),
        "case": case.id,
        "subject": subject_id,
        "source": source,
        "state_before": str(before),
        "state_after": str(case.state),
        "actions": actions,
    }
    queue_security_webhook(
        svc, uow, kind="fraud_flagged", payload=payload, subject_id=subject_id, case_id=case.id
    )
