"""The compliance report: figures and controls for one period, as JSON, HTML
(jinja2, charts as inline SVG) or PDF (reportlab, charts as PNG)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

import custos
from custos.reports import charts as charts_mod
from custos.reports.controls import Control, controls
from custos.reports.figures import Figures, Period, collect
from custos.reports.ledger_status import LedgerVerifier, verify_ledger_status
from custos.reports.text import counts, duration
from custos.service.ports import Services


@dataclass(frozen=True, slots=True)
class Report:
    generated_at: datetime
    period: Period
    figures: Figures
    controls: list[Control]

    def to_json(self) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "product": {"name": "Custos", "version": custos.__version__},
            "figures": self.figures.to_json(),
            "controls": [c.to_json() for c in self.controls],
        }


def day_period(first: date, last: date) -> Period:
    """The whole days ``first`` to ``last`` inclusive, in UTC."""
    start = datetime.combine(first, time.min, tzinfo=UTC)
    return Period(start, datetime.combine(last, time.min, tzinfo=UTC) + timedelta(days=1))


def build_report(
    svc: Services, period: Period, *, verifier: LedgerVerifier = verify_ledger_status
) -> Report:
    """Collect the figures and judge the controls. ``verifier`` supplies the
    ledger status (default: a full read-only verification)."""
    status = verifier(svc)
    with svc.engine.connect() as conn:
        figures = collect(conn, period, status)
    return Report(svc.clock.now(), period, figures, controls(figures))


def summary_rows(report: Report) -> list[tuple[str, str]]:
    """The report's headline figures as (label, value) lines (the PDF's summary
    table, the console's report page)."""
    f = report.figures
    share = f.dual_control["share"]
    return [
        ("Recoveries opened", str(f.recoveries["total"])),
        ("Completed", str(f.recoveries["by_state"].get("completed", 0))),
        ("Completed under dual control", "n/a" if share is None else f"{share * 100:.0f}%"),
        (
            "Time to restore, median / 95th percentile",
            f"{duration(f.time_to_restore['median_s'])} / {duration(f.time_to_restore['p95_s'])}",
        ),
        ("Proofing failures", str(f.proofing["failures"])),
        (
            "Propagation failures per system",
            counts(f.propagation["failed_attempts_by_target"]),
        ),
        (
            "Policy exceptions used",
            f"{f.exceptions['used']} ({len(f.exceptions['active'])} active, "
            f"{len(f.exceptions['expired'])} expired at the end of the period)",
        ),
        (
            "Break-glass uses",
            f"{len(f.exceptions['break_glass'])} "
            f"({f.exceptions['break_glass_refused']} refused attempts)",
        ),
        ("Ledger verification", str(f.ledger["state"])),
    ]


_ENV = Environment(
    loader=PackageLoader("custos.reports", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


_ENV.filters["duration"] = duration


def render_html(report: Report) -> str:
    """A self-contained HTML page (inline CSS and SVG, no external requests)."""
    made = list(charts_mod.charts(report.figures))
    try:
        return _ENV.get_template("compliance.html.j2").render(
            report=report,
            f=report.figures,
            charts=[(c.title, c.svg()) for c in made],
            version=custos.__version__,
        )
    finally:
        charts_mod.close(made)
