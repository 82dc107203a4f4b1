"""The ledger event of an exception: about its one subject (None when it covers
several, a group or a tier), with its id, target, relaxation, ticket and end time."""

from __future__ import annotations

from datetime import datetime

from custos.domain.events import DomainEvent, EventType, Outcome, utc
from custos.domain.exceptions import ExceptionRecord


def exception_event(
    type_: EventType,
    record: ExceptionRecord,
    *,
    at: datetime,
    actor: str,
    reason: str,
    outcome: Outcome = Outcome.SUCCESS,
    **extra: object,
) -> DomainEvent:
    data: dict[str, object] = {
        "exception": record.id,
        "relaxation": str(record.relaxation),
        "value": record.value,
        "subjects": list(record.subject_ids),
        "group": record.group,
        "tier": record.tier,
        "ticket": record.ticket,
        "starts_at": utc(record.starts_at),
        "ends_at": utc(record.ends_at),
    }
    data.update(extra)
    return DomainEvent(
        type=type_,
        occurred_at=at,
        actor=actor,
        subject_id=record.subject_ids[0] if len(record.subject_ids) == 1 else None,
        case_id=None,
        outcome=outcome,
        reason=reason,
        data=data,
    )
