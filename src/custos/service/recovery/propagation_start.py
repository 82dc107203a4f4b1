"""Starting propagation once a recovery is redeemed: one receipt per linked
account, for the worker to claim."""

from __future__ import annotations

from datetime import datetime

from custos.domain.model import SYSTEM_ACTOR, Case, Subject
from custos.domain.states import CaseState
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork


def queue_propagation(
    svc: Services, uow: UnitOfWork, *, case: Case, subject: Subject, now: datetime
) -> None:
    """Move to ``executing`` with one receipt per linked account; the tier's
    ``required_targets`` says which must succeed (None: all)."""
    required = case.requirements.required_targets
    accounts = [
        (a.target, a.account_id, required is None or a.target in required) for a in subject.accounts
    ]
    case.move(
        CaseState.EXECUTING,
        at=now,
        actor=SYSTEM_ACTOR,
        reason=f"propagating to {len(accounts)} account(s)",
    )
    if not accounts:
        case.move(
            CaseState.NEEDS_ATTENTION,
            at=now,
            actor=SYSTEM_ACTOR,
            reason="the subject has no linked account to propagate to",
        )
        return
    uow.receipts.create(case.id, accounts, now=now, max_attempts=svc.settings.worker.max_attempts)
