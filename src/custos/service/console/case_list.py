"""The console's list of cases (docs/console.md#cases): cases of subjects in the
operator's scope, newest first, filtered by state and subject, for every role
that works on cases."""

from __future__ import annotations

from typing import Any

from custos.domain.errors import InvalidInput, NotAuthorized
from custos.domain.model import Operator, Role
from custos.domain.states import CaseState
from custos.service.console.actors import label, operator_names
from custos.service.ports import Services
from custos.service.recovery.queries import list_cases

#: Roles that see the case list (admin holds every role).
CASE_READERS = (Role.REQUESTER, Role.APPROVER, Role.EXECUTOR, Role.AUDITOR)
LIMIT = 200


def parse_state(value: str | None) -> CaseState | None:
    """A state filter as typed (blank: any). Raises InvalidInput."""
    if not value:
        return None
    try:
        return CaseState(value)
    except ValueError:
        raise InvalidInput(f"unknown state '{value}'", known=[str(s) for s in CaseState]) from None


def cases_in_scope(
    svc: Services,
    operator: Operator,
    *,
    state: str | None = None,
    subject_id: str | None = None,
    limit: int = LIMIT,
) -> list[dict[str, Any]]:
    """Cases the operator may see, each with ``requester`` (a name). Raises
    NotAuthorized for an operator with none of :data:`CASE_READERS`,
    InvalidInput for an unknown state."""
    if not any(operator.has_role(role) for role in CASE_READERS):
        raise NotAuthorized("only operators who work on cases see the case list")
    rows = list_cases(
        svc, operator, state=parse_state(state), subject_id=subject_id or None, limit=limit
    )
    with svc.uow() as uow:
        names = operator_names(uow)
    return [
        {**row, "requester": label(row["requested_by"], names, subject_id=row["subject_id"])}
        for row in rows
    ]
