"""Why an approver may not decide a case, in plain words (docs/console.md#approvals).

The domain names the separation-of-duties rule it applied in
``details["rule"]`` (``custos.domain.sod``); each rule has one sentence here.
An error without a known rule keeps the domain's own message."""

from __future__ import annotations

from custos.domain.errors import AlreadyDecided, DomainError, NotAuthorized, OutOfScope

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
    return exc.message[:1].upper() + exc.message[1:] + "."
