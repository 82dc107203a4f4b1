"""The compliance report for a period chosen in the console (docs/reports.md):
the same report as ``custos report compliance``, the same default period. It
counts every subject's cases and names cases in its findings, so it is for
ledger readers (auditor, admin) whose scope is every subject."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from custos.domain.errors import NotAuthorized
from custos.domain.model import Operator
from custos.ledger.proofs import require_ledger_reader
from custos.reports.compliance import Report, build_report, day_period
from custos.reports.periods import period_days
from custos.service.ports import Services

#: What the console's form calls the two dates (for error messages).
FIELD_NAMES = ("'From'", "'To'")


@dataclass(frozen=True, slots=True)
class PeriodReport:
    first: date
    last: date
    report: Report


def require_report_reader(operator: Operator) -> None:
    """Raises NotAuthorized unless ``operator`` may read the compliance report."""
    require_ledger_reader(operator)
    if "*" not in operator.scope:
        raise NotAuthorized(
            "the compliance report covers every subject: it needs a scope of every subject"
        )


def report_period(svc: Services, first: str | None, last: str | None) -> tuple[date, date]:
    """The days typed (blank: the default, the last 30 days up to today, UTC).
    Raises InvalidInput."""
    return period_days(first or None, last or None, svc.clock.now().date(), names=FIELD_NAMES)


def compliance_report(
    svc: Services, operator: Operator, *, first: str | None, last: str | None
) -> PeriodReport:
    """Build the report for the days typed. Raises NotAuthorized, InvalidInput."""
    require_report_reader(operator)
    start, end = report_period(svc, first, last)
    return PeriodReport(start, end, build_report(svc, day_period(start, end)))
