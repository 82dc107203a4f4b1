"""Every refused operator action recorded (R-36), a flood summarised.

:func:`record` runs in a transaction of its own, after the refused command
rolled back: it counts the refusal in its window (``custos.oversight.refusals``)
and writes the first of the window to the ledger in full. :func:`close_windows`
(the worker, and every later refusal of the same actor) writes a closed window
that held more than one refusal as one summary entry. The answer to the
operator is whatever the command raised; recording never changes it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from custos.domain.errors import DomainError, OutOfScope
from custos.domain.events import DomainEvent, EventType, Outcome, utc
from custos.oversight.refusals import RefusalKind, kind_of, window_start, writes_detail
from custos.service.ports import Services
from custos.store.oversight_repository import RefusalWindow
from custos.store.unit_of_work import UnitOfWork

#: The actor of a refusal nobody can be named for (an unknown API token).
ANONYMOUS = "anonymous"


@dataclass(slots=True)
class Attempt:
    """What an attempted action learned before it was refused."""

    subject_id: str | None = None


@contextmanager
def attempt(
    svc: Services,
    *,
    actor: str,
    action: str,
    case_id: str | None = None,
    hidden: DomainError | None = None,
) -> Iterator[Attempt]:
    """Run an operator's ``action``; a refusal it raises is recorded (after the
    body's own transaction ended) and raised again, an OutOfScope as ``hidden``
    when given (the answer for something that does not exist, so that scope
    reveals nothing). Set ``subject_id`` on the yielded value once known."""
    tried = Attempt()
    try:
        yield tried
    except OutOfScope as exc:
        subject = exc.details.get("subject")
        named = subject if isinstance(subject, str) else tried.subject_id
        record_error(svc, exc, actor=actor, action=action, case_id=case_id, subject_id=named)
        if hidden is None:
            raise
        raise hidden from None
    except DomainError as exc:
        record_error(
            svc, exc, actor=actor, action=action, case_id=case_id, subject_id=tried.subject_id
        )
        raise


def record_error(
    svc: Services,
    exc: DomainError,
    *,
    actor: str,
    action: str,
    case_id: str | None = None,
    subject_id: str | None = None,
) -> RefusalKind | None:
    """Record ``exc`` as a refusal of ``actor``'s ``action`` when it is one
    (``custos.oversight.refusals.kind_of``); returns its kind, None otherwise."""
    kind = kind_of(exc, action=action)
    if kind is not None:
        rule = exc.details.get("rule")
        record(
            svc,
            actor=actor,
            kind=kind,
            action=action,
            error_id=exc.error_id,
            rule=rule if isinstance(rule, str) else None,
            case_id=case_id,
            subject_id=subject_id,
        )
    return kind


def record(
    svc: Services,
    *,
    actor: str,
    kind: RefusalKind,
    action: str,
    error_id: str,
    rule: str | None = None,
    case_id: str | None = None,
    subject_id: str | None = None,
) -> None:
    """Count one refusal and write it to the ledger if it is the first of its
    window. Never raises: a failure to record is logged, and the refusal the
    caller is about to answer stands."""
    now = svc.clock.now()
    length = svc.policy.document.oversight.refusal_window
    start = window_start(now, length)
    try:
        with svc.uow() as uow:
            count = uow.refusal_windows.count_one(
                actor=actor, kind=str(kind), window_start=start, now=now
            )
            _summarise(uow, uow.refusal_windows.closed_unsummarised(before=start, actor=actor), now)
            if writes_detail(count):
                data: dict[str, object] = {
                    "kind": str(kind),
                    "action": action,
                    "error": error_id,
                    "window_start": utc(start),
                    "window_seconds": int(length.total_seconds()),
                }
                if rule is not None:
                    data["rule"] = rule
                uow.ledger.append(
                    [
                        DomainEvent(
                            type=EventType.BREAK_GLASS_REFUSED
                            if kind == RefusalKind.BREAK_GLASS
                            else EventType.OPERATOR_REFUSED,
                            occurred_at=now,
                            actor=actor,
                            subject_id=subject_id,
                            case_id=case_id,
                            outcome=Outcome.DENIED,
                            reason=f"{action} refused ({error_id})",
                            data=data,
                        )
                    ]
                )
            uow.commit()
    except Exception as exc:  # recording must not turn a refusal into a 500
        # structlog imported here: every case read loads this module (through
        # case_transaction), and structlog (with rich's tracebacks) is slow to load.
        import structlog

        structlog.get_logger("custos.oversight").error(
            "refusal_not_recorded", kind=str(kind), error=type(exc).__name__
        )


def count_in_window(
    svc: Services, uow: UnitOfWork, *, actor: str, kind: RefusalKind, now: datetime
) -> int:
    """Count one refusal whose own ledger entry the caller writes, in the
    caller's transaction: a failed console sign-in (``auth:operator:sign_in_failed``,
    R-36, issue 14). It joins its window's count (the metrics, and the
    ``oversight:refusals:summarised`` entry once the window closed with more
    than one), and the actor's closed windows are summarised. Returns the
    window's count with it."""
    start = window_start(now, svc.policy.document.oversight.refusal_window)
    count = uow.refusal_windows.count_one(actor=actor, kind=str(kind), window_start=start, now=now)
    _summarise(uow, uow.refusal_windows.closed_unsummarised(before=start, actor=actor), now)
    return count


def close_windows(svc: Services) -> int:
    """Write a summary for every closed window that held more than one refusal
    (the worker's pass); returns how many were written."""
    now = svc.clock.now()
    start = window_start(now, svc.policy.document.oversight.refusal_window)
    with svc.uow() as uow:
        windows = uow.refusal_windows.closed_unsummarised(before=start)
        _summarise(uow, windows, now)
        uow.commit()
    return len(windows)


def _summarise(uow: UnitOfWork, windows: list[RefusalWindow], now: datetime) -> None:
    for window in windows:
        uow.ledger.append(
            [
                DomainEvent(
                    type=EventType.REFUSALS_SUMMARISED,
                    occurred_at=now,
                    actor=window.actor,
                    subject_id=None,
                    case_id=None,
                    outcome=Outcome.DENIED,
                    reason=f"{window.count} refusals ({window.kind}) in one window",
                    data={
                        "kind": window.kind,
                        "count": window.count,
                        "window_start": utc(window.window_start),
                        "last_at": utc(window.last_at),
                    },
                )
            ]
        )
        uow.refusal_windows.mark_summarised(window)


def refusals_by_kind(svc: Services) -> dict[str, int]:
    """Every refusal counted so far, by kind (for the metrics)."""
    with svc.uow(read_only=True) as uow:
        return uow.refusal_windows.totals_by_kind()
