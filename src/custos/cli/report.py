"""``custos report compliance``: controls and evidence for a period."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from custos.cli.context import command_group, console, escape, failures, state
from custos.cli.output_file import OutputFile
from custos.domain.errors import InvalidInput

app = command_group("Compliance reports.")


class Format(StrEnum):
    HTML = "html"
    PDF = "pdf"
    JSON = "json"


@app.command("compliance")
def compliance(
    ctx: typer.Context,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="First day (YYYY-MM-DD, UTC). Default: 29 days before --to (the last 30 days).",
            show_default=False,
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Last day, inclusive (YYYY-MM-DD, UTC). Default: today.",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    format_: Annotated[
        Format | None,
        typer.Option(
            "--format", help="html, pdf or json (default: from the file name, else html)."
        ),
    ] = None,
) -> None:
    """NIST CSF 2.0, SP 800-53, OWASP NHI and AI RMF controls with their evidence,
    and the recovery figures, for the days FROM to TO (default: the last 30
    days, today included)."""
    from custos.reports.compliance import build_report, day_period, render_html
    from custos.reports.periods import period_days

    with failures():
        chosen = format_ or _format_of(output)
        if chosen == Format.PDF and output is None:
            raise InvalidInput("a PDF needs a file: give -o report.pdf")
        svc = state(ctx).services()
        first, last = period_days(from_, to, svc.clock.now().date())
        report = build_report(svc, day_period(first, last))
    if chosen == Format.JSON:
        text = json.dumps(report.to_json(), indent=2)
    elif chosen == Format.HTML:
        text = render_html(report)
    else:
        from custos.reports.pdf import render_pdf

        assert output is not None
        _write(output, render_pdf(report))
        return
    if output is None:
        print(text)
        return
    _write(output, text.encode("utf-8"))


def _write(output: Path, data: bytes) -> None:
    with failures(), OutputFile(output) as file:
        file.write(data)
    console.print(f"report written to {escape(str(output))}")


def _format_of(output: Path | None) -> Format:
    suffix = output.suffix.lower().lstrip(".") if output else ""
    return Format(suffix) if suffix in {f.value for f in Format} else Format.HTML
