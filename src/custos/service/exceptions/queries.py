"""Exceptions as the faces read them: a list (by status) and one exception,
limited to the operator's scope."""

from __future__ import annotations

from dataclasses import dataclass

from custos.domain.errors import InvalidInput, NotFound
from custos.domain.exceptions import ExceptionRecord, ExceptionStatus
from custos.domain.model import Operator
from custos.service.exceptions.commands import visible
from custos.service.ports import Services

#: Exceptions a list reads at most before it filters them by scope and status.
SCAN = 5000


@dataclass(frozen=True, slots=True)
class ExceptionView:
    record: ExceptionRecord
    status: ExceptionStatus


def parse_status(value: str | None) -> ExceptionStatus | None:
    """A status, or ``all``/empty (None). Raises InvalidInput."""
    if not value or value == "all":
        return None
    try:
        return ExceptionStatus(value)
    except ValueError:
        known = [str(s) for s in ExceptionStatus] + ["all"]
        raise InvalidInput(f"unknown exception status '{value[:40]}'", known=known) from None


def list_exceptions(
    svc: Services,
    operator: Operator | None,
    *,
    status: ExceptionStatus | None = None,
    limit: int = 200,
) -> list[ExceptionView]:
    """Exceptions newest first, those the operator may see (None: the local
    command line, everything), in ``status`` now when given."""
    now = svc.clock.now()
    with svc.uow(read_only=True) as uow:
        found = [r for r in uow.exceptions.search(limit=SCAN) if visible(uow, operator, r)]
    views = [ExceptionView(record=r, status=r.status(now)) for r in found]
    if status is not None:
        views = [v for v in views if v.status == status]
    return views[:limit]


def exception_view(svc: Services, operator: Operator | None, exception_id: str) -> ExceptionView:
    """One exception. Raises NotFound (also for one outside the operator's scope)."""
    with svc.uow(read_only=True) as uow:
        record = uow.exceptions.get(exception_id)
        if not visible(uow, operator, record):
            raise NotFound(f"no exception '{exception_id[:80]}'", exception=exception_id[:80])
    return ExceptionView(record=record, status=record.status(svc.clock.now()))
