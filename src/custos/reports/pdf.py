"""The compliance report as PDF (reportlab platypus; charts as PNG images)."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

import custos
from custos.reports import charts as charts_mod
from custos.reports.compliance import Report, summary_rows

_STATUS_COLOURS = {"met": "#2e7d32", "attention": "#c0392b", "no_data": "#7a8591"}
_WIDTH = A4[0] - 36 * mm


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _summary(report: Report, body: ParagraphStyle) -> Table:
    rows = summary_rows(report)
    table = Table(
        [[_p(k, body), _p(v, body)] for k, v in rows], colWidths=[_WIDTH * 0.38, _WIDTH * 0.62]
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#d8dee6")),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eef2f6")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _controls(report: Report, body: ParagraphStyle, small: ParagraphStyle) -> Table:
    rows: list[list[Flowable]] = [
        [_p("Control", small), _p("Status", small), _p("Evidence", small)]
    ]
    for c in report.controls:
        colour = _STATUS_COLOURS[c.status]
        evidence = "<br/>".join(f"&bull; {escape(line)}" for line in c.evidence)
        rows.append(
            [
                Paragraph(f"<b>{escape(c.id)}</b><br/>{escape(c.framework)}", small),
                Paragraph(
                    f'<font color="{colour}"><b>{c.status.replace("_", " ")}</b></font>', small
                ),
                Paragraph(f"<b>{escape(c.title)}</b><br/>{evidence}", small),
            ]
        )
    table = Table(rows, colWidths=[_WIDTH * 0.17, _WIDTH * 0.11, _WIDTH * 0.72], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#d8dee6")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2f6")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def render_pdf(report: Report) -> bytes:
    """The report as PDF bytes (A4)."""
    styles = getSampleStyleSheet()
    body, small = (
        styles["BodyText"],
        ParagraphStyle("small", styles["BodyText"], fontSize=8, leading=10),
    )
    f = report.figures
    story: list[Flowable] = [
        _p("Account recovery: compliance report", styles["Title"]),
        _p(
            f"Period {f.period['from'] or 'beginning'} to {f.period['to'] or 'now'} "
            f"(end exclusive, UTC); generated {report.generated_at:%Y-%m-%d %H:%M} UTC "
            f"by Custos {custos.__version__}.",
            body,
        ),
        Spacer(1, 6 * mm),
        _p("Summary", styles["Heading2"]),
        _summary(report, body),
    ]
    made = list(charts_mod.charts(f))
    try:
        for chart in made:
            png = chart.png()
            image = Image(io.BytesIO(png))
            scale = min(1.0, _WIDTH / image.drawWidth)
            image.drawWidth, image.drawHeight = image.drawWidth * scale, image.drawHeight * scale
            story.append(KeepTogether([_p(chart.title, styles["Heading3"]), image]))
    finally:
        charts_mod.close(made)
    story += [_p("Controls and evidence", styles["Heading2"]), _controls(report, body, small)]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        title="Custos compliance report",
        author="Custos",
    )
    doc.build(story)
    return buffer.getvalue()
