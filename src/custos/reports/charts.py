"""Charts for the compliance report (matplotlib, Agg backend): SVG text for the
HTML report, PNG bytes for the PDF. Each function returns a figure or None when
there is nothing to draw."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from custos.reports.figures import Figures

PALETTE = ["#1f4e79", "#4e9a06", "#c4a000", "#ce5c00", "#75507b", "#5c8fbf", "#8f5902"]
FAILED, PASSED = "#c0392b", "#4e9a06"


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    figure: Figure

    def svg(self) -> str:
        """The chart as inline SVG (no XML prolog, ready to embed in HTML)."""
        buffer = io.StringIO()
        self.figure.savefig(buffer, format="svg", bbox_inches="tight")
        text = buffer.getvalue()
        return text[text.index("<svg") :]

    def png(self, dpi: int = 150) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
        return buffer.getvalue()


def _axes(width: float = 6.4, height: float = 2.6) -> tuple[Figure, Any]:
    plt.rcParams.update({"font.size": 9, "svg.fonttype": "none"})
    figure = plt.figure(figsize=(width, height))
    ax = figure.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return figure, ax


def recoveries_chart(f: Figures) -> Chart | None:
    """Recoveries per channel, stacked by tier."""
    rows = f.recoveries["by_channel_and_tier"]
    if not rows:
        return None
    channels = sorted({r["channel"] for r in rows})
    tiers = sorted({r["tier"] for r in rows})
    figure, ax = _axes(height=0.6 + 0.45 * len(channels))
    left = [0] * len(channels)
    for i, tier in enumerate(tiers):
        counts = [
            sum(r["count"] for r in rows if r["channel"] == c and r["tier"] == tier)
            for c in channels
        ]
        ax.barh(channels, counts, left=left, label=tier, color=PALETTE[i % len(PALETTE)])
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_xlabel("recoveries")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(title="tier", frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return Chart("recoveries", "Recoveries by channel and tier", figure)


def proofing_chart(f: Figures) -> Chart | None:
    """Proofing attempts per method: passed and failed."""
    passes, failures = f.proofing["passes_by_method"], f.proofing["failures_by_method"]
    methods = sorted(set(passes) | set(failures))
    if not methods:
        return None
    figure, ax = _axes(height=0.6 + 0.45 * len(methods))
    ok = [passes.get(m, 0) for m in methods]
    bad = [failures.get(m, 0) for m in methods]
    ax.barh(methods, ok, color=PASSED, label="passed")
    ax.barh(methods, bad, left=ok, color=FAILED, label="failed")
    ax.set_xlabel("proofing attempts")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return Chart("proofing", "Proofing attempts by method", figure)


def propagation_chart(f: Figures) -> Chart | None:
    """Receipts per target system by final state."""
    per_target: dict[str, dict[str, int]] = f.propagation["receipts_by_target"]
    if not per_target:
        return None
    targets = sorted(per_target)
    figure, ax = _axes(height=0.6 + 0.45 * len(targets))
    colours = {"succeeded": PASSED, "failed": FAILED, "retryable_failure": "#c4a000"}
    left = [0] * len(targets)
    for state in ("succeeded", "retryable_failure", "pending", "failed"):
        counts = [per_target[t].get(state, 0) for t in targets]
        if any(counts):
            ax.barh(targets, counts, left=left, label=state, color=colours.get(state, "#888a85"))
            left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_xlabel("receipts (one per account and system)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return Chart("propagation", "Propagation by system", figure)


def charts(f: Figures) -> Iterator[Chart]:
    """Every chart that has data, in report order. Close them with :func:`close`."""
    for build in (recoveries_chart, proofing_chart, propagation_chart):
        chart = build(f)
        if chart is not None:
            yield chart


def close(made: list[Chart]) -> None:
    for chart in made:
        plt.close(chart.figure)
