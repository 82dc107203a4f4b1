"""Why an approver may not decide a case, in plain words (docs/console.md#approvals),
and ``refusal``: the fields every console page shows a refused action with.

The domain names the separation-of-duties rule it applied in
``details["rule"]`` (``custos.domain.sod``); each rule has one sentence here.
An error without a known rule keeps the domain's own message."""

from __future__ import annotations

from typing import TypedDict

from custos.api.errors import status_for
from custos.domain.errors import AlreadyDecided, DomainError, NotAuthorized, OutOfScope
from custos.service.console.wording import as_sentence

#: Separation-of-duties rules (``custos.domain.sod``) as an approver reads them.
RULES = {
    "own_case": "This case is about you: nobody decides on their own recovery. "
    "Another approver must decide it.",
    "requester": "You opened this case; a different person must approve it.",
    "executor": "You carried out this case; a different person must approve it.",
    "already_approved": "You already approved this case; a second approver is needed. "
    "One person counts once, whatever accounts or roles they have.",
    "approver_executes": "You approved this case, so you cannot carry it out.",
}

#: States before approval: a case there is not decided, it is not ready yet.
NOT_YET = frozenset({"opened", "proofing"})


def plain_refusal(exc: DomainError, *, tier: str = "", state: str = "") -> str:
    """One or two sentences saying why the operator may not decide ``tier``'s
    case, now in ``state``."""
    rule = exc.details.get("rule")
    if isinstance(rule, str) and rule in RULES:
        return RULES[rule]
    if rule == "approver_groups":
        groups = exc.details.get("groups")
        listed = ", ".join(str(g) for g in groups) if isinstance(groups, list) else ""
        return (
            f"Approvals for tier '{tier}' must come from a member of: {listed}. "
            "You are not in any of these groups."
        )
    if isinstance(exc, AlreadyDecided):
        if (exc.details.get("state") or state) in NOT_YET:
            return "This case does not wait for approval yet: its proofs are still being collected."
        now = str(exc.details.get("state") or state).replace("_", " ")
        return f"This case no longer waits for a decision (it is {now or 'decided'})."
    if isinstance(exc, OutOfScope):
        return "This case's subject is outside your scope."
    if isinstance(exc, NotAuthorized) and exc.details.get("role"):
        return f"You do not hold the {exc.details['role']} role."
    return as_sentence(exc)


class Refusal(TypedDict):
    """What a console page shows of a refused action: the sentence, the
    error's stable id, and the HTTP status the page is answered with."""

    error: str
    error_id: str
    status_code: int


def refusal(exc: DomainError, words: str | None = None) -> Refusal:
    """``exc`` as a page shows it: ``words`` (the page's plain words for it),
    or else the error's own message as a sentence."""
    return {
        "error": words if words is not None else as_sentence(exc),
        "error_id": exc.error_id,
        "status_code": status_for(exc),
    }
