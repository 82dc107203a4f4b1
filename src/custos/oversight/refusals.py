"""What counts as a refused operator action, and the window a refusal is
counted in (R-36).

A refusal storm must not grow the ledger without bound: refusals are counted
per (actor, kind) in fixed windows. The first refusal of a window is written
to the ledger in full; the rest only raise the window's count, and a closed
window with more than one refusal is written once more as a summary (its count).
So each (actor, kind) adds at most two ledger entries per window, however many
requests arrive. :func:`window_start` and :func:`ledger_entries_for` state that
rule; the service applies it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum

from custos.domain.errors import (
    AlreadyDecided,
    BreakGlassRefused,
    DomainError,
    IllegalTransition,
    NotAuthorized,
    OutOfScope,
    RecoveryBlocked,
    SeparationOfDuties,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RefusalKind(StrEnum):
    """Why an operator was turned away."""

    SEPARATION_OF_DUTIES = "separation_of_duties"
    SCOPE = "scope"
    ROLE = "role"
    STATE = "state"
    HOLD = "hold"
    SIGN_IN = "sign_in"
    API_TOKEN = "api_token"  # noqa: S105 (a refused token use, not a secret)
    BREAK_GLASS = "break_glass"


#: The action name of a break-glass attempt: every refusal of it is a
#: refused break-glass (``governance:break_glass:refused``), whatever rule.
BREAK_GLASS_ACTION = "break_glass"


def kind_of(exc: DomainError, *, action: str | None = None) -> RefusalKind | None:
    """The refusal an operator's failed action amounts to, or None when the
    error is not a refusal (a wrong proof, invalid input, an expired case).
    A break-glass refusal (any, when ``action`` is the break-glass one) is
    of kind ``break_glass``."""
    if isinstance(exc, BreakGlassRefused):
        return RefusalKind.BREAK_GLASS
    if action == BREAK_GLASS_ACTION and kind_of(exc) is not None:
        return RefusalKind.BREAK_GLASS
    if isinstance(exc, SeparationOfDuties):
        return RefusalKind.SEPARATION_OF_DUTIES
    if isinstance(exc, OutOfScope):
        return RefusalKind.SCOPE
    if isinstance(exc, NotAuthorized):
        return RefusalKind.ROLE
    if isinstance(exc, RecoveryBlocked):
        return RefusalKind.HOLD
    if isinstance(exc, (AlreadyDecided, IllegalTransition)):
        return RefusalKind.STATE
    return None


def window_start(at: datetime, length: timedelta) -> datetime:
    """The start of the fixed window of ``length`` that ``at`` falls in (windows
    are aligned on the Unix epoch, so every process agrees on them)."""
    seconds = max(1, int(length.total_seconds()))
    elapsed = int((at.astimezone(UTC) - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=elapsed - elapsed % seconds)


def writes_detail(count_in_window: int) -> bool:
    """Whether the refusal that brought its window's count to ``count_in_window``
    is written to the ledger in full: only the first of a window is."""
    return count_in_window == 1


def needs_summary(count_in_window: int) -> bool:
    """Whether a closed window is written as a summary: when more refusals came
    than the one written in full."""
    return count_in_window > 1


def ledger_entries_for(counts: list[int]) -> int:
    """How many ledger entries windows with these final counts produce: at most
    two each, whatever the counts (the bound the tests hold the service to)."""
    return sum(1 + (1 if needs_summary(c) else 0) for c in counts if c > 0)
