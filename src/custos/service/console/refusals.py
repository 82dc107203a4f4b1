"""Separation-of-duties refusals in plain words (R-32, R-33), for the console's
pages: the domain says "the requester of a case cannot approve it (R-32)", an
operator reads "You opened this case, so someone else must approve it."

:func:`sod_refusal` reads the same facts as ``domain/sod.py``; it explains, the
domain still decides (every command checks again when it runs)."""

from __future__ import annotations

from typing import Final

from custos.domain.model import Case, Operator, Subject

OWN_ACCOUNT: Final = "This is your own account: another person must handle its recovery."


def sod_refusal(action: str, *, case: Case, operator: Operator, subject: Subject) -> str | None:
    """Why separation of duties keeps ``operator`` from ``action`` (``proof``,
    ``approve``, ``deny``, ``execute``, ``cancel``, ``retry``, ``flag``) on
    ``case``, in words; None when it does not stand in the way."""
    if operator.person == subject.id:
        return OWN_ACCOUNT
    approvers = {a.person for a in case.approvals}
    if action in ("approve", "deny"):
        if case.requester_person is not None and operator.person == case.requester_person:
            return f"You opened this case, so someone else must {action} it."
        if case.executor_person is not None and operator.person == case.executor_person:
            return f"You executed this case, so someone else must {action} it."
        if action == "approve" and operator.person in approvers:
            return (
                "You have already approved this case: one person counts once, so the "
                "next approval must come from someone else."
            )
    if action == "execute" and operator.person in approvers:
        return "You approved this case, so someone else must execute it."
    return None
