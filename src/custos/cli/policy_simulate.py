"""``custos policy simulate FILE``: the cases of a period replayed under a
candidate policy, case by case and in totals (docs/policy.md#simulation)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from custos.cli.context import console, err_console, escape, failures, state

if TYPE_CHECKING:
    from rich.table import Table

    from custos.policy.landing import Landing
    from custos.policy.simulate import CaseReplay, SimulationReport

#: How each effect reads in the table, and its colour.
EFFECT_STYLE = {
    "unchanged": "dim",
    "newly_refused": "bold red",
    "no_longer_refused": "bold magenta",
    "stricter": "yellow",
    "looser": "cyan",
    "mixed": "magenta",
    "other": "blue",
    "not_replayed": "red",
}


def simulate(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The candidate policy file.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Start of the period: a duration back from now (30d, 12h), a day "
            "(2026-11-01) or a time (2026-11-01T08:00Z). Default: 30d.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="End of the period, left out (a day is included whole); same "
            "spellings. Default: now.",
            show_default=False,
        ),
    ] = None,
    changed: Annotated[
        bool, typer.Option("--changed", help="List only the cases the candidate changes.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False,
) -> None:
    """Replay the cases opened in the period under the candidate policy FILE:
    the tier each would have landed in, which would have needed more (or less)
    proofing or approvals, and which would have been refused. Reads the cases
    and the ledger; changes nothing. An invalid FILE is refused, line by line,
    as `custos policy check` refuses it (exit 1)."""
    from custos.policy.loader import PolicyError
    from custos.policy.simulation_period import simulation_period
    from custos.service.policy.simulation import candidate_file, simulate_period

    with failures():
        svc = state(ctx).services()
        start, end = simulation_period(since, until, svc.clock.now())
        try:
            candidate = candidate_file(svc, file)
        except PolicyError as exc:
            for problem in exc.problems:
                err_console.print(str(problem), markup=False, soft_wrap=True)
            raise typer.Exit(1) from None
        report = simulate_period(svc, candidate, since=start, until=end)
    if as_json:
        console.print_json(json.dumps(report.to_json()))
        return
    _print(report, changed_only=changed)


def _print(report: SimulationReport, *, changed_only: bool) -> None:
    t = report.totals
    console.print(
        f"{t.cases} case(s) opened from {report.since:%Y-%m-%d %H:%M} to "
        f"{report.until:%Y-%m-%d %H:%M} UTC, replayed under {escape(report.candidate_source)} "
        f"(version {report.candidate_version}, {report.candidate_hash})",
        soft_wrap=True,
    )
    shown = report.changed if changed_only else report.cases
    if shown:
        console.print(_cases_table(shown, changed_only=changed_only))
    elif t.cases:
        console.print("the candidate changes none of them")
    console.print(_totals_table(report))
    if t.transitions:
        console.print(_transitions_table(report))
    console.print(
        "[dim]Attributes: a case does not record its subject's attributes, so every "
        "case was replayed with the subject's current ones (column 'attributes'); "
        "holds as the hold records show them when it opened.[/]",
        soft_wrap=True,
    )
    for c in report.cases:
        if c.attributes_drifted or c.candidate is None:
            console.print(f"{c.case_id}: {escape(c.attributes)}", soft_wrap=True)


def _cases_table(cases: tuple[CaseReplay, ...], *, changed_only: bool) -> Table:
    from rich.table import Table

    title = "cases the candidate changes" if changed_only else "cases, oldest first"
    table = Table(title=f"{len(cases)} {title}")
    table.add_column("case", no_wrap=True, min_width=24)
    for column in ("opened (UTC)", "subject", "channel", "risk", "recorded", "candidate"):
        table.add_column(column)
    table.add_column("effect")
    table.add_column("what changes")
    table.add_column("attributes")
    for c in cases:
        band = c.recorded.risk_band
        if c.candidate is not None and c.candidate.risk_band != band:
            band = f"{band} → {c.candidate.risk_band}"
        table.add_row(
            c.case_id,
            c.opened_at.strftime("%Y-%m-%d %H:%M"),
            escape(c.subject_id),
            c.channel,
            f"{c.risk_score} {escape(band)}",
            escape(_landing(c.recorded)),
            "-" if c.candidate is None else escape(_landing(c.candidate)),
            f"[{EFFECT_STYLE[str(c.effect)]}]{c.effect}[/]",
            escape("; ".join(str(d) for d in c.differences) or "-"),
            "-"
            if c.candidate is None
            else "current, drifted"
            if c.attributes_drifted
            else "current",
        )
    return table


def _attributes(case: CaseReplay) -> str:
    """Which attributes the replay used, short (the notes below the tables say more)."""
    if case.candidate is None:
        return "-"
    return "current, drifted" if case.attributes_drifted else "current"


def _landing(landing: Landing) -> str:
    """``standard`` for a case that goes on; ``frozen (blocked)`` for a refused one."""
    if not landing.refused:
        return landing.tier_label
    return f"{landing.tier_label} ({landing.opening})"


def _totals_table(report: SimulationReport) -> Table:
    from rich.table import Table

    t = report.totals
    table = Table(title="totals")
    table.add_column("")
    table.add_column("cases", justify="right")
    for effect, count in t.by_effect:
        table.add_row(f"[{EFFECT_STYLE[str(effect)]}]{effect}[/]", str(count))
    for label, count in (
        ("tier changed", t.tier_changed),
        ("more proofing", t.more_proofing),
        ("less proofing", t.less_proofing),
        ("more approvals", t.more_approvals),
        ("fewer approvals", t.fewer_approvals),
        ("attributes drifted since the case", t.attributes_drifted),
        ("all cases", t.cases),
    ):
        table.add_row(label, str(count))
    return table


def _transitions_table(report: SimulationReport) -> Table:
    from rich.table import Table

    table = Table(title="tier changes")
    for column in ("recorded tier", "candidate tier"):
        table.add_column(column)
    table.add_column("cases", justify="right")
    for before, after, count in report.totals.transitions:
        table.add_row(escape(before), escape(after), str(count))
    return table
