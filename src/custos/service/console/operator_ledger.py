"""Ledger events about operators' accounts: one spelling for every module of
the console's sign-in and administration (R-35, R-36). Never a secret in
``data``: no password, code, token or link."""

from __future__ import annotations

from datetime import datetime

from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.model import Operator, Role
from custos.store.unit_of_work import UnitOfWork


def access_data(
    roles: frozenset[Role], scope: frozenset[str], groups: frozenset[str]
) -> dict[str, list[str]]:
    """An operator's access as events spell it: sorted roles, scope and groups."""
    return {
        "roles": sorted(str(r) for r in roles),
        "scope": sorted(scope),
        "groups": sorted(groups),
    }


def record(
    uow: UnitOfWork,
    type_: EventType,
    operator: Operator,
    now: datetime,
    *,
    actor: str,
    outcome: Outcome = Outcome.SUCCESS,
    data: dict[str, object] | None = None,
    **fields: object,
) -> None:
    """Append one event about ``operator`` done by ``actor``, in the caller's
    transaction; its data names the operator, then ``data`` and ``fields``."""
    uow.ledger.append(
        [
            DomainEvent(
                type=type_,
                occurred_at=now,
                actor=actor,
                subject_id=None,
                case_id=None,
                outcome=outcome,
                data={"operator": operator.id, "name": operator.name, **(data or {}), **fields},
            )
        ]
    )
