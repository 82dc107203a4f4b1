"""The worker's part: an exception whose end time passed already relaxes
nothing when read; the sweep records it (one ``governance:exception:expired``
event each)."""

from __future__ import annotations

from custos.domain.events import EventType
from custos.domain.model import SYSTEM_ACTOR
from custos.service.exceptions.events import exception_event
from custos.service.ports import Services


def expire_due_exceptions(svc: Services, *, limit: int = 100) -> int:
    """Record the expiry of up to ``limit`` exceptions whose end time passed;
    returns how many this call recorded (another worker may record some first)."""
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        due = uow.exceptions.due_to_expire(now, limit=limit)
    expired = 0
    for record in due:
        with svc.uow() as uow:
            if not uow.exceptions.record_expiry(record.id, at=now):
                continue
            uow.ledger.append(
                [
                    exception_event(
                        EventType.EXCEPTION_EXPIRED,
                        record,
                        at=now,
                        actor=SYSTEM_ACTOR,
                        reason="the exception's end time passed",
                    )
                ]
            )
            uow.commit()
        expired += 1
    return expired
