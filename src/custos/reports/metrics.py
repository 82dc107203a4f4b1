"""Prometheus metrics: a custom collector that queries the store on every scrape
(all time), so any number of API processes report the same numbers without
shared in-process state.

Ledger verification is not re-run per scrape (it reads the whole ledger); the
gauge reports the last recorded ``custos audit verify`` outcome instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from custos.export.delivery import export_status
from custos.reports.figures import Figures, Period, collect
from custos.reports.ledger_status import LedgerStatus
from custos.service.ports import Services
from custos.store.tables import cases

LastVerification = Callable[[Services], dict[str, Any] | None]


def last_recorded_verification(svc: Services) -> dict[str, Any] | None:
    """The last ``audit verify`` outcome from the ledger, None if never run or if
    this build has no tamper-evident ledger."""
    try:
        from custos.ledger.audit import latest_verification
    except ImportError:
        return None
    return latest_verification(svc)


class StoreCollector(Collector):
    """Yields Custos metrics computed from the database at scrape time."""

    def __init__(
        self, svc: Services, last_verification: LastVerification = last_recorded_verification
    ) -> None:
        self.svc = svc
        self.last_verification = last_verification

    def collect(self) -> Iterator[Metric]:
        with self.svc.engine.connect() as conn:
            rows = conn.execute(select(cases.c.state, func.count()).group_by(cases.c.state))
            by_state = {str(state): int(count) for state, count in rows}
            figures = collect(conn, Period(), LedgerStatus("unavailable"))
        # Cases by their *current* state: a gauge (a case moves between states).
        states = GaugeMetricFamily(
            "custos_cases_total", "Recovery cases by current state.", labels=["state"]
        )
        for state, count in sorted(by_state.items()):
            states.add_metric([str(state)], float(count))
        yield states
        yield from _figures(figures)
        yield from self._ledger()
        yield from self._export()
        yield from self._oversight()

    def _ledger(self) -> Iterator[Metric]:
        last = self.last_verification(self.svc)
        verified = GaugeMetricFamily(
            "custos_ledger_verified",
            "1 if the last 'custos audit verify' found the ledger intact, 0 if it found a "
            "break; absent if never run.",
        )
        if last is not None:
            verified.add_metric([], 1.0 if last.get("ok") else 0.0)
        yield verified

    def _export(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "custos_export_pending_events",
            "Ledger entries not yet acknowledged by a SIEM sink.",
            labels=["sink"],
        )
        for status in export_status(self.svc):
            lag.add_metric([status.name], float(status.pending))
        yield lag

    def _oversight(self) -> Iterator[Metric]:
        """Refused operator actions by kind (R-36) and open anomaly alerts by
        signal: aggregates, no operator named."""
        from custos.service.oversight.anomalies import open_alerts
        from custos.service.oversight.refusals import refusals_by_kind

        yield _counter(
            "custos_operator_refusals",
            "Refused operator actions, by kind (docs/oversight.md).",
            "kind",
            refusals_by_kind(self.svc),
        )
        by_signal: dict[str, int] = {}
        for alert in open_alerts(self.svc):
            by_signal[alert.signal] = by_signal.get(alert.signal, 0) + 1
        alerts = GaugeMetricFamily(
            "custos_operator_anomaly_alerts_open",
            "Open operator anomaly alerts, by signal.",
            labels=["signal"],
        )
        for signal, count in sorted(by_signal.items()):
            alerts.add_metric([signal], float(count))
        yield alerts


def _counter(name: str, doc: str, label: str, values: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], float(value))
    return family


def _figures(f: Figures) -> Iterator[Metric]:
    recoveries = CounterMetricFamily(
        "custos_recoveries",
        "Recovery cases opened, by channel and tier.",
        labels=["channel", "tier"],
    )
    for row in f.recoveries["by_channel_and_tier"]:
        recoveries.add_metric([row["channel"], row["tier"]], float(row["count"]))
    yield recoveries
    yield _counter(
        "custos_proofing_failures",
        "Failed proofing attempts, by method.",
        "method",
        f.proofing["failures_by_method"],
    )
    yield _counter(
        "custos_propagation_failures",
        "Failed propagation attempts, by target system.",
        "target",
        f.propagation["failed_attempts_by_target"],
    )
    share = f.dual_control["share"]
    dual = GaugeMetricFamily(
        "custos_dual_control_ratio", "Share of completed recoveries with an independent approval."
    )
    if share is not None:
        dual.add_metric([], float(share))
    yield dual
    restore = GaugeMetricFamily(
        "custos_time_to_restore_seconds",
        "Time from case opened to completed (nearest-rank quantiles).",
        labels=["quantile"],
    )
    for quantile, key in (("0.5", "median_s"), ("0.95", "p95_s")):
        if f.time_to_restore[key] is not None:
            restore.add_metric([quantile], float(f.time_to_restore[key]))
    yield restore
    yield CounterMetricFamily(
        "custos_exceptions_used",
        "Policy exceptions used by cases.",
        value=float(f.exceptions["used"]),
    )
    yield CounterMetricFamily(
        "custos_ledger_entries", "Entries in the ledger.", value=float(f.ledger["entries_total"])
    )


def render_metrics(svc: Services) -> bytes:
    """The Prometheus text exposition for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(svc))
    return generate_latest(registry)
