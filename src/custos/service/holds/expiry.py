"""The worker's part: a hold whose end time passed already stops counting when
read; the sweep records it (one ``governance:hold:expired`` event) and lets the
cases it blocked go back where they stood when no other hold remains."""

from __future__ import annotations

from custos.domain.events import EventType
from custos.domain.model import SYSTEM_ACTOR
from custos.service.holds import case_effects
from custos.service.holds.commands import hold_event
from custos.service.ports import Services


def end_due_holds(svc: Services, *, limit: int = 100) -> int:
    """Record the end of up to ``limit`` holds whose end time passed; returns
    how many this call recorded (another worker may record some first)."""
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        due = uow.holds.due_to_end(now, limit=limit)
    ended = 0
    for hold in due:
        with svc.uow() as uow:
            if not uow.holds.record_expiry(hold.id, at=now):
                continue
            uow.ledger.append(
                [
                    hold_event(
                        EventType.HOLD_EXPIRED,
                        hold,
                        at=now,
                        actor=SYSTEM_ACTOR,
                        reason="the hold's end time passed",
                    )
                ]
            )
            case_effects.release_cases(
                uow, hold, now=now, actor=SYSTEM_ACTOR, how="reached its end time"
            )
            uow.commit()
        ended += 1
    return ended
