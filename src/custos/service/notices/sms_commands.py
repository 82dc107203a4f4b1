"""Operator commands for SMS codes (R-13, R-15, R-20, R-44)."""

from __future__ import annotations

from custos.domain import sod
from custos.domain.errors import AlreadyDecided, InvalidInput, SmsBlocked
from custos.domain.model import Operator, Role
from custos.service.notices import sms
from custos.service.ports import Services
from custos.service.recovery import proofing
from custos.service.recovery.case_transaction import case_transaction


def send_sms_code(svc: Services, operator: Operator, case_id: str) -> None:
    """A help-desk agent has a code texted to the subject's confirmed phone
    numbers (the agent never sees it). Raises SmsBlocked (``sms_blocked``) after a
    recent SIM swap, Throttled when the send limits refuse (the suppression is
    recorded on the case, R-21), InvalidInput when the tier does not allow SMS or
    no phone is confirmed, AlreadyDecided outside proofing, and the usual
    NotAuthorized, OutOfScope, SeparationOfDuties, NotFound."""
    with case_transaction(svc, case_id, operator=operator, action="sms_code") as txn:
        sod.check_role(operator, Role.REQUESTER)
        sod.check_scope(operator, txn.subject)
        sod.check_not_subject(operator, txn.subject)
        if txn.case.state != "proofing":
            raise AlreadyDecided(f"case {case_id} is not collecting evidence")
        refusal = sms.admit_send(
            txn.uow, case=txn.case, method="sms_code", source=operator.actor, now=txn.now
        )
        if refusal is not None:
            txn.save_and_commit()
            raise proofing.throttled(refusal)
        outcome = sms.send_code(
            svc, txn.uow, case=txn.case, subject=txn.subject, actor=operator.actor, now=txn.now
        )
        txn.save_and_commit()
    if outcome == "blocked":
        raise SmsBlocked(
            "SMS recovery is blocked: the carrier reported a SIM swap or number porting "
            f"in the last {svc.settings.sim_swap_block_days} days; use another method",
            case_id=case_id,
        )
    if outcome == "unavailable":
        raise InvalidInput(
            "no SMS code was sent: the tier does not allow sms_code or the subject "
            "has no confirmed phone number",
            case_id=case_id,
        )
