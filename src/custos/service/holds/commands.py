"""Setting and lifting holds (docs/holds.md). Each command is one transaction:
the hold record, its ledger event and the moves of the cases it blocks or
releases commit together (STYLE 2). Separation of duties is checked here
through ``domain/holds.py`` whatever face the command came from."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from custos.domain.errors import (
    DomainError,
    HoldNotStanding,
    InvalidInput,
    NotFound,
    OutOfScope,
)
from custos.domain.events import DomainEvent, EventType, Outcome, utc
from custos.domain.holds import (
    HoldRecord,
    check_ends_at,
    check_kind,
    check_lifter,
    check_reason,
    check_setter,
)
from custos.domain.model import Operator
from custos.service.holds import case_effects
from custos.service.holds.standing import hold_rules
from custos.service.ports import Services
from custos.service.recovery.cases import ticket_reference
from custos.store.unit_of_work import UnitOfWork

MAX_GROUP = 200


@dataclass(frozen=True, slots=True)
class HoldChange:
    """A hold after a command, and the cases the command moved."""

    hold: HoldRecord
    cases_blocked: tuple[str, ...] = ()
    cases_released: tuple[str, ...] = ()


def new_hold_id(now: datetime) -> str:
    return f"hold-{now.strftime('%Y%m%d')}-{secrets.token_hex(5)}"


def hold_event(
    type_: EventType,
    hold: HoldRecord,
    *,
    at: datetime,
    actor: str,
    reason: str,
    outcome: Outcome = Outcome.SUCCESS,
    **extra: object,
) -> DomainEvent:
    """The ledger event of a hold: about its subject (None for a group hold),
    with the hold's id, kind, target, ticket and end time in ``data``."""
    data: dict[str, object] = {"hold": hold.id, "kind": hold.kind}
    if hold.group is not None:
        data["group"] = hold.group
    data["ticket"] = hold.ticket
    data["ends_at"] = None if hold.ends_at is None else utc(hold.ends_at)
    data.update(extra)
    return DomainEvent(
        type=type_,
        occurred_at=at,
        actor=actor,
        subject_id=hold.subject_id,
        case_id=None,
        outcome=outcome,
        reason=reason,
        data=data,
    )


def place_hold(
    uow: UnitOfWork,
    *,
    kind: str,
    subject_id: str | None,
    group: str | None,
    reason: str,
    ticket: str | None,
    set_by: str,
    set_by_person: str | None,
    now: datetime,
    ends_at: datetime | None = None,
    skip_cases: tuple[str, ...] = (),
) -> HoldChange:
    """Store a hold checked by the caller, record it, and block the cases it
    applies to (``skip_cases`` excepted), in ``uow`` (not committed). Waits for
    the cases opening meanwhile (PostgreSQL), so that each either sees this
    hold or is blocked by it."""
    uow.holds.guard_standing(placing=True)
    hold = HoldRecord(
        id=new_hold_id(now),
        kind=kind,
        subject_id=subject_id,
        group=group,
        reason=reason,
        ticket=ticket,
        set_by=set_by,
        set_by_person=set_by_person,
        set_at=now,
        ends_at=ends_at,
    )
    uow.holds.add(hold)
    uow.ledger.append([hold_event(EventType.HOLD_SET, hold, at=now, actor=set_by, reason=reason)])
    blocked = case_effects.block_cases(uow, hold, now=now, actor=set_by, skip=skip_cases)
    return HoldChange(hold=hold, cases_blocked=tuple(blocked))


def set_hold(
    svc: Services,
    operator: Operator,
    *,
    kind: str,
    reason: str,
    ticket: str | None,
    subject_id: str | None = None,
    group: str | None = None,
    ends_at: datetime | None = None,
) -> HoldChange:
    """Set a hold on a subject or on a group (exactly one) in the operator's
    scope, with a reason, a ticket and an optional end time; the open cases it
    applies to move to ``blocked``. Raises InvalidInput, NotFound (an unknown
    subject, or one outside the scope), OutOfScope (a group outside it),
    NotAuthorized, SeparationOfDuties (a hold on oneself)."""
    rules = hold_rules(svc)
    kind = check_kind(kind.strip(), rules)
    reason = check_reason(reason, what="a hold")
    ticket = ticket_reference(ticket)
    if ticket is None:
        raise InvalidInput("a hold needs a ticket reference")
    if (subject_id is None) == (group is None):
        raise InvalidInput("a hold is on one subject or on one group: give exactly one")
    if group is not None:
        group = _group_name(group)
    now = svc.clock.now()
    ends_at = check_ends_at(ends_at, now)
    check_setter(operator, rules, subject_id=subject_id)
    with svc.uow() as uow:
        if subject_id is not None:
            subject = uow.subjects.get(subject_id)
            if subject is None or not operator.covers(subject):
                raise NotFound(f"no subject '{subject_id}'", subject_id=subject_id)
        elif group is not None and not operator.covers_groups(frozenset({group})):
            raise OutOfScope(
                f"group '{group}' is outside the scope of operator '{operator.name}'",
                group=group,
            )
        change = place_hold(
            uow,
            kind=kind,
            subject_id=subject_id,
            group=group,
            reason=reason,
            ticket=ticket,
            set_by=operator.actor,
            set_by_person=operator.person,
            now=now,
            ends_at=ends_at,
        )
        uow.commit()
    return change


def lift_hold(svc: Services, operator: Operator, hold_id: str, *, reason: str) -> HoldChange:
    """Lift a standing hold: the policy's lifting role, a different person from
    the one who set it, and not a hold on the operator's own account. Cases it
    blocked go back where they stood once no other hold stands on their
    subject. A refusal is recorded in the ledger too. Raises NotFound (also for
    a hold outside the scope), HoldNotStanding, NotAuthorized,
    HoldLiftBySetter, SeparationOfDuties, InvalidInput."""
    reason = check_reason(reason, what="lifting a hold")
    rules = hold_rules(svc)
    now = svc.clock.now()
    with svc.uow() as uow:
        hold = uow.holds.get(hold_id, for_update=True)
        if not visible(uow, operator, hold):
            raise NotFound(f"no hold '{hold_id[:80]}'", hold=hold_id[:80])
        own = uow.subjects.get(operator.person)
        on_self = own is not None and hold.applies_to(own.id, own.groups)
        try:
            check_lifter(hold, operator, rules, now=now, on_self=on_self)
        except HoldNotStanding:
            raise
        except DomainError as exc:
            uow.ledger.append(
                [
                    hold_event(
                        EventType.HOLD_LIFT_REFUSED,
                        hold,
                        at=now,
                        actor=operator.actor,
                        reason=exc.message,
                        outcome=Outcome.DENIED,
                        error=exc.error_id,
                    )
                ]
            )
            uow.commit()
            raise
        if not uow.holds.lift(
            hold.id, by=operator.actor, person=operator.person, at=now, reason=reason
        ):
            raise HoldNotStanding(f"hold {hold.id} is not standing any more", hold=hold.id)
        lifted = replace(
            hold,
            lifted_by=operator.actor,
            lifted_by_person=operator.person,
            lifted_at=now,
            lift_reason=reason,
        )
        uow.ledger.append(
            [hold_event(EventType.HOLD_LIFTED, lifted, at=now, actor=operator.actor, reason=reason)]
        )
        released = case_effects.release_cases(
            uow, lifted, now=now, actor=operator.actor, how="was lifted"
        )
        uow.commit()
    return HoldChange(hold=lifted, cases_released=tuple(released))


def visible(uow: UnitOfWork, operator: Operator | None, hold: HoldRecord) -> bool:
    """Whether ``operator`` may see ``hold``: its subject or its group lies in
    their scope (None: the local command line, which sees everything)."""
    if operator is None or "*" in operator.scope:
        return True
    if hold.group is not None:
        return operator.covers_groups(frozenset({hold.group}))
    subject = uow.subjects.get(hold.subject_id or "")
    return subject is not None and operator.covers(subject)


def _group_name(group: str) -> str:
    group = group.strip()
    if not group or len(group) > MAX_GROUP or group == "*" or not group.isprintable():
        raise InvalidInput(f"a group name is 1 to {MAX_GROUP} printable characters, not '*'")
    return group
