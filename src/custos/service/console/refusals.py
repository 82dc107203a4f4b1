"""Separation-of-duties refusals in plain words (R-32, R-33), for the console's
pages: the domain says "an approver of a case cannot execute it (R-33)", an
operator reads "You approved this case, so someone else must execute it."

:func:`sod_refusal` reads the same facts as ``domain/sod.py``; it explains, the
domain still decides (every command checks again when it runs)."""

from __future__ import annotations

from typing import Final

from custos.domain.model import Case, Operator, Subject

OWN_ACCOUNT: Final = "This is your own account: another person must handle its recovery."


def sod_refusal(action: str, *, case: Case, operator: Operator, subject: Subject) -> str | None:
    """Why separation of duties keeps ``operator`` from ``action`` on ``case`` (any
    help-desk action: ``proof``, ``execute``, ``cancel``, ``retry``, ``flag``), in
    words; None when it does not stand in the way. Approvals have their own page."""
    if operator.person == subject.id:
        return OWN_ACCOUNT
    if action == "execute" and any(a.person == operator.person for a in case.approvals):
        return "You approved this case, so someone else must execute it."
    return None
