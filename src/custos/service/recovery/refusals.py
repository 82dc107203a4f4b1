"""Telling a subject that the policy refuses their recovery online, and whom
to contact instead (a ``refuse`` tier's instructions, an ended contract).

On the help desk the agent reads the instructions in the answer to opening the
case. A self-service caller may be anyone, so the caller's answers stay the
ones every other request gets (R-19); the instructions go to the subject's
confirmed email contacts instead, when the caller asks for a code, under the
same send limits as a code (R-20)."""

from __future__ import annotations

from custos.domain.events import EventType
from custos.domain.model import SYSTEM_ACTOR, ContactKind
from custos.notify import messages
from custos.service.notices import dispatch as notices
from custos.service.ports import Services
from custos.service.recovery.case_transaction import case_transaction
from custos.service.recovery.opening import refusal_of
from custos.service.signals import throttles


def tell_subject(svc: Services, case_id: str, *, who: str, source: str | None) -> None:
    """Count one send for ``who`` (as a code request would) and, when it may go
    and the policy refused ``case_id`` as it opened, queue the instructions to
    the subject's confirmed email contacts, with a ledger event on the case."""
    with case_transaction(svc, case_id) as txn:
        refusal = throttles.admit_send(txn.uow, who=who, source=source, now=txn.now)
        reason = refusal_of(txn.case, txn.subject)
        if refusal is None and reason is not None:
            text = txn.case.requirements.instructions or reason
            batch = [
                messages.recovery_refused(
                    to=c.address,
                    case_id=txn.case.id,
                    display_name=txn.subject.display_name,
                    instructions=text,
                )
                for c in txn.subject.confirmed_contacts(ContactKind.EMAIL)
            ]
            notices.queue(svc, txn.uow, batch, subject_id=txn.subject.id)
            txn.case.emit(
                EventType.REFUSAL_SENT,
                at=txn.now,
                actor=SYSTEM_ACTOR,
                reason=text,
                data={"delivered_to": len(batch)},
            )
        txn.save_and_commit()
