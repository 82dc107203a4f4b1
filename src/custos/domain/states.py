"""The recovery case state machine: legal moves are data in this module.

The diagram beside this module (``docs/case-states.mmd``) draws the same
tables (``TRANSITIONS``, and ``HOLD_RETURNS`` as edges labelled "last hold
ends"); ``tests/unit/domain/test_states.py`` checks that they agree.
States are stored as strings: a renamed state gets a new name, never a reused one.
"""

from __future__ import annotations

from enum import StrEnum

from custos.domain.errors import IllegalTransition


class CaseState(StrEnum):
    """Where a recovery case stands. See ``docs/case-states.mmd``."""

    OPENED = "opened"
    PROOFING = "proofing"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    CREDENTIAL_ISSUED = "credential_issued"
    EXECUTING = "executing"
    VERIFYING = "verifying"
    COMPLETED = "completed"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    BLOCKED = "blocked"
    NEEDS_ATTENTION = "needs_attention"


S = CaseState

TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    S.OPENED: frozenset({S.PROOFING, S.BLOCKED, S.DENIED, S.CANCELLED}),
    S.PROOFING: frozenset(
        {S.AWAITING_APPROVAL, S.APPROVED, S.DENIED, S.EXPIRED, S.CANCELLED, S.BLOCKED}
    ),
    S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.DENIED, S.EXPIRED, S.CANCELLED, S.BLOCKED}),
    S.APPROVED: frozenset({S.CREDENTIAL_ISSUED, S.EXPIRED, S.CANCELLED, S.BLOCKED}),
    S.CREDENTIAL_ISSUED: frozenset({S.EXECUTING, S.EXPIRED, S.CANCELLED, S.BLOCKED}),
    S.EXECUTING: frozenset({S.VERIFYING, S.NEEDS_ATTENTION}),
    S.VERIFYING: frozenset({S.COMPLETED, S.NEEDS_ATTENTION}),
    S.NEEDS_ATTENTION: frozenset({S.EXECUTING, S.VERIFYING, S.CANCELLED}),
    # Leaving a block needs the break-glass path (more approvers): back to
    # approval, or to proofing first when the tier's evidence is not all in
    # (a case blocked as it opened); break-glass never skips proofing.
    S.BLOCKED: frozenset({S.PROOFING, S.AWAITING_APPROVAL, S.CANCELLED}),
    S.COMPLETED: frozenset(),
    S.DENIED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
}

TERMINAL: frozenset[CaseState] = frozenset(s for s, moves in TRANSITIONS.items() if not moves)

#: States in which the case waits for evidence, decisions or the subject, and so
#: may expire. ``opened`` is not among them: opening moves a case on in the same
#: transaction.
OPEN_FOR_DECISION: frozenset[CaseState] = frozenset(
    {S.PROOFING, S.AWAITING_APPROVAL, S.APPROVED, S.CREDENTIAL_ISSUED}
)


#: Where a case a hold blocked goes back to when the last hold on its subject
#: ends: the state it stood in when the hold blocked it, one of these (a case
#: waiting on evidence, a decision or the subject; propagation is not stopped by
#: a hold). Kept apart from TRANSITIONS on purpose: ``blocked -> approved`` is
#: no way around approval, because only the state the case had already reached
#: is allowed back (``Case.release`` holds it). See docs/holds.md.
HOLD_RETURNS: frozenset[CaseState] = OPEN_FOR_DECISION


def can_move(current: CaseState, target: CaseState) -> bool:
    """Whether ``current -> target`` is a legal move."""
    return target in TRANSITIONS[current]


def check_move(current: CaseState, target: CaseState) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> target`` is legal."""
    if not can_move(current, target):
        raise IllegalTransition(
            f"a case in state '{current}' cannot move to '{target}'",
            current=str(current),
            target=str(target),
        )


def check_return(current: CaseState, target: CaseState) -> None:
    """Raise :class:`IllegalTransition` unless a case in ``current`` may go back
    to ``target`` because its last hold ended (``blocked`` to a HOLD_RETURNS
    state). Whether ``target`` is the state the case was blocked in is the
    case's own check (``Case.release``)."""
    if current != CaseState.BLOCKED or target not in HOLD_RETURNS:
        raise IllegalTransition(
            f"a case in state '{current}' cannot go back to '{target}' when a hold ends",
            current=str(current),
            target=str(target),
        )
