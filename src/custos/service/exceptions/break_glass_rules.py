"""What break-glass changes for the other use cases (docs/exceptions.md): the
policy's security approver groups, whether a case goes on while a hold stands
on its subject (only the case that used break-glass, only while its exception
is active), and the break-glass rules of one more approval. Kept apart from
the command (``break_glass``) so that the case transaction can ask without
importing it."""

from __future__ import annotations

from datetime import datetime

from custos.domain.errors import NotFound
from custos.domain.exceptions import break_glass_passes, check_break_glass_approval
from custos.domain.model import Case, Operator, Subject
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork


def security_groups(svc: Services) -> frozenset[str]:
    """The groups a break-glass case's security approver comes from
    (``exceptions.security_groups``, default ``security-approvers``, the
    group that lifts holds by default)."""
    return frozenset(svc.policy.document.exceptions.security_groups)


def passes_hold(uow: UnitOfWork, case: Case, subject: Subject, now: datetime) -> bool:
    """Whether ``case`` goes on although a hold stands on ``subject``: it used
    break-glass, is no longer blocked, and its exception is still active and
    covers the subject. False for every other case (the hold refuses it)."""
    use = case.requirements.break_glass
    if use is None or not subject.holds:
        return False
    try:
        record = uow.exceptions.get(use.exception)
    except NotFound:
        return False
    return break_glass_passes(case, record, groups=subject.groups, now=now)


def check_approval(uow: UnitOfWork, case: Case, approver: Operator) -> None:
    """The break-glass rules of ``approver``'s approval of ``case`` (nothing for
    a case without break-glass): the invoker never approves, and the approval
    that fills the quorum needs a security approver among the approvers (their
    groups as they stand now). Raises SeparationOfDuties, BreakGlassRefused."""
    if case.requirements.break_glass is None:
        return
    prior: dict[str, frozenset[str]] = {}
    for approval in case.approvals:
        if approval.person in prior:
            continue
        found = uow.operators.get(approval.operator_id)
        prior[approval.person] = frozenset() if found is None else found.groups
    check_break_glass_approval(case, approver, prior_groups=list(prior.values()))
