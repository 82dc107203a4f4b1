"""Holds as the faces read them: a list (by subject, group and status) and one
hold, each limited to the operator's scope, with who set and lifted it named
for people."""

from __future__ import annotations

from dataclasses import dataclass

from custos.domain.errors import InvalidInput, NotFound
from custos.domain.holds import HoldRecord, HoldStatus
from custos.domain.model import Operator
from custos.service.console.actors import label, operator_names
from custos.service.holds.commands import visible
from custos.service.ports import Services
from custos.store.unit_of_work import UnitOfWork

#: Holds a list reads at most before it filters them by scope.
SCAN = 5000


@dataclass(frozen=True, slots=True)
class HoldView:
    hold: HoldRecord
    status: HoldStatus
    #: Who set and lifted it, for people: an operator's name, the subject, Custos.
    set_by: str
    lifted_by: str | None


def parse_status(value: str | None) -> HoldStatus | None:
    """``standing``, ``lifted``, ``expired``, or ``all``/empty (None). Raises
    InvalidInput."""
    if not value or value == "all":
        return None
    try:
        return HoldStatus(value)
    except ValueError:
        known = [str(s) for s in HoldStatus] + ["all"]
        raise InvalidInput(f"unknown hold status '{value[:40]}'", known=known) from None


def list_holds(
    svc: Services,
    operator: Operator | None,
    *,
    subject_id: str | None = None,
    group: str | None = None,
    status: HoldStatus | None = None,
    limit: int = 200,
) -> list[HoldView]:
    """Holds newest first, those the operator may see (None: the local command
    line, everything). ``subject_id``: the holds on that subject and on its
    groups; ``group``: the holds on that group. Raises InvalidInput when both
    are given, NotFound for a subject unknown or outside the scope."""
    if subject_id is not None and group is not None:
        raise InvalidInput("filter by a subject or by a group, not both")
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        if subject_id is not None:
            subject = uow.subjects.get(subject_id)
            if subject is None or (operator is not None and not operator.covers(subject)):
                raise NotFound(f"no subject '{subject_id}'", subject_id=subject_id)
            # Every hold that applies to a subject in scope is shown, a hold on
            # one of its groups outside the scope too: it is why the subject
            # cannot recover.
            found = uow.holds.search(
                now=now,
                subject_ids=[subject.id],
                groups=subject.groups,
                status=status,
                limit=limit,
            )
            return views(uow, found, svc)
        found = uow.holds.search(
            now=now,
            groups=None if group is None else [group],
            subject_ids=[] if group is not None else None,
            status=status,
            limit=SCAN,
        )
        if operator is not None and "*" not in operator.scope:
            groups = uow.subjects.groups_of(h.subject_id for h in found if h.subject_id)
            found = [
                h
                for h in found
                if operator.covers_groups(
                    frozenset({h.group})
                    if h.group is not None
                    else groups.get(h.subject_id or "", frozenset())
                )
            ]
        return views(uow, found[:limit], svc)


def hold_view(svc: Services, operator: Operator | None, hold_id: str) -> HoldView:
    """One hold. Raises NotFound (also for a hold outside the operator's scope)."""
    with svc.uow(read_only=True) as uow:
        hold = uow.holds.get(hold_id)
        if not visible(uow, operator, hold):
            raise NotFound(f"no hold '{hold_id[:80]}'", hold=hold_id[:80])
        return views(uow, [hold], svc)[0]


def views(uow: UnitOfWork, holds: list[HoldRecord], svc: Services) -> list[HoldView]:
    """``holds`` with their status now and their actors named."""
    now = svc.clock.now()
    names = operator_names(uow)
    return [
        HoldView(
            hold=h,
            status=h.status(now),
            set_by=label(h.set_by, names, subject_id=h.subject_id),
            lifted_by=None if h.lifted_by is None else label(h.lifted_by, names),
        )
        for h in holds
    ]
