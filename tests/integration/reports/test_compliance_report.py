"""The compliance report on SQLite and PostgreSQL after a few real recoveries:
exact figures, every control in the HTML with a chart, a real PDF, and the same
figures at /metrics."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from recoveries import helpdesk_recovery, link_refusing_target, self_service_recovery
from typer.testing import CliRunner

from conftest import START, World
from custos.api.app import create_app
from custos.cli.main import app as cli
from custos.reports.compliance import build_report, day_period, render_html
from custos.reports.figures import Period
from custos.reports.ledger_status import LedgerStatus
from custos.reports.pdf import render_pdf

CONTROL_IDS = [
    "PR.AA-01",
    "PR.AA-02",
    "PR.AA-05",
    "IA-5",
    "AC-3(2)",
    "AC-5",
    "AU-2",
    "AU-3",
    "AU-9",
    "AU-10",
    "NHI-03",
    "GOVERN",
]


def verified(svc: object) -> LedgerStatus:
    return LedgerStatus("verified", entries=1, heads_checked=1)


@pytest.fixture
def recovered(world: World) -> World:
    """bob: self-service, one wrong code, 10 min to restore; kim: help desk with
    TOTP, the sponsor's attestation and an approval, 8 min; lars: self-service
    whose second system refuses."""
    world.subject("bob")
    self_service_recovery(world, "bob", wrong_codes=1, minutes=10)
    world.drain()
    helpdesk_recovery(world, "kim", minutes=8)
    world.drain()
    world.subject("lars")
    link_refusing_target(world, "lars")
    self_service_recovery(world, "lars")
    world.drain()
    return world


def test_figures_count_recoveries_controls_and_failures_exactly(recovered: World) -> None:
    report = build_report(recovered.svc, day_period(START.date(), START.date()), verifier=verified)
    f = report.to_json()["figures"]
    assert f["recoveries"]["total"] == 3
    assert f["recoveries"]["by_channel"] == {"helpdesk": 1, "self_service": 2}
    assert f["recoveries"]["by_tier"] == {"contractor": 1, "standard": 2}
    assert f["recoveries"]["by_state"] == {"completed": 2, "needs_attention": 1}
    assert f["recoveries"]["by_channel_and_tier"] == [
        {"channel": "helpdesk", "tier": "contractor", "count": 1},
        {"channel": "self_service", "tier": "standard", "count": 2},
    ]
    assert f["dual_control"] == {"completed": 2, "with_independent_approval": 1, "share": 0.5}
    assert f["time_to_restore"] == {
        "completed": 2,
        "median_s": 540.0,
        "p95_s": 600.0,
        "max_s": 600.0,
    }
    assert f["proofing"]["attempts"] == 5
    assert f["proofing"]["failures"] == 1
    assert f["proofing"]["failures_by_method"] == {"email_code": 1}
    assert f["proofing"]["passes_by_method"] == {
        "email_code": 2,
        "manager_attestation": 1,
        "totp": 1,
    }
    assert f["exceptions"]["used"] == 0
    assert f["propagation"]["failed_attempts_by_target"] == {"cloud": 1}
    assert f["propagation"]["failed_receipts_by_target"] == {"cloud": 1}
    assert f["propagation"]["receipts"] == 4
    assert f["separation_of_duties"]["violations"] == 0
    assert f["separation_of_duties"]["cases_requiring_approval"] == 1
    assert f["separation_of_duties"]["cases_with_quorum"] == 1
    assert f["credentials"]["completed_with_secret_still_stored"] == 0
    assert f["audit_trail"]["incomplete_entries"] == 0
    assert f["ledger"]["state"] == "verified"
    statuses = {c["id"]: c["status"] for c in report.to_json()["controls"]}
    assert list(statuses) == CONTROL_IDS
    assert set(statuses.values()) == {"met"}


def test_period_outside_the_recoveries_has_no_data(recovered: World) -> None:
    later = START.date() + timedelta(days=3)
    report = build_report(recovered.svc, day_period(later, later), verifier=verified)
    assert report.figures.recoveries["total"] == 0
    assert report.figures.time_to_restore["median_s"] is None
    assert {c.id: c.status for c in report.controls}["PR.AA-05"] == "no_data"


def test_broken_ledger_puts_au9_and_au10_under_attention(recovered: World) -> None:
    def broken(svc: object) -> LedgerStatus:
        return LedgerStatus("broken", entries=10, problems=1, detail="entry 4 changed")

    report = build_report(recovered.svc, Period(), verifier=broken)
    statuses = {c.id: c.status for c in report.controls}
    assert statuses["AU-9"] == statuses["AU-10"] == "attention"
    assert "entry 4 changed" in " ".join(
        next(c for c in report.controls if c.id == "AU-9").evidence
    )


def test_html_report_shows_every_control_and_a_chart(recovered: World) -> None:
    html = render_html(build_report(recovered.svc, Period(), verifier=verified))
    for control in CONTROL_IDS:
        assert f">{control}<" in html
    assert html.count("<svg") == 3
    assert "Propagation failures per system" in html and ">cloud<" in html
    assert "<script" not in html  # self-contained, nothing executable


def test_pdf_report_is_a_readable_pdf(recovered: World, tmp_path: Path) -> None:
    pdf = render_pdf(build_report(recovered.svc, Period(), verifier=verified))
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Image" in pdf  # the charts
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils (pdftotext) is needed to read the PDF back"
    (tmp_path / "r.pdf").write_bytes(pdf)
    text = subprocess.run(
        [pdftotext, "-layout", str(tmp_path / "r.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for control in CONTROL_IDS:
        assert control in text


def test_default_verifier_reports_the_real_ledger_state(recovered: World) -> None:
    """Without an injected verifier the report asks custos.ledger to verify."""
    report = build_report(recovered.svc, Period())
    assert report.figures.ledger["state"] == "verified", report.figures.ledger
    assert report.figures.ledger["entries"] == report.figures.ledger["entries_total"]


def test_cli_writes_json_html_and_pdf(recovered: World, tmp_path: Path) -> None:
    settings = recovered.svc.settings
    config = tmp_path / "custos.toml"
    config.write_text(
        f'database_url = "{settings.effective_database_url}"\n'
        f'sealing_key = "{settings.sealing_key.get_secret_value()}"\n'  # type: ignore[union-attr]
        f'data_dir = "{tmp_path}"\n'
    )
    day = START.date().isoformat()
    runner = CliRunner()
    for name in ("report.json", "report.html", "report.pdf"):
        result = runner.invoke(
            cli,
            [
                "-c",
                str(config),
                "report",
                "compliance",
                "--from",
                day,
                "--to",
                day,
                "-o",
                str(tmp_path / name),
            ],
        )
        assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "report.json").read_text())["figures"]
    assert figures["recoveries"]["total"] == 3
    assert "AC-3(2)" in (tmp_path / "report.html").read_text()
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF-")
    bad = runner.invoke(
        cli, ["-c", str(config), "report", "compliance", "--from", "tomorrow", "--to", day]
    )
    assert bad.exit_code == 1 and "invalid_input" in bad.output


def test_cli_without_dates_reports_the_last_30_days(recovered: World, tmp_path: Path) -> None:
    """No --from/--to: the 30 days up to today (UTC, by the deployment's clock)."""
    settings = recovered.svc.settings
    config = tmp_path / "custos.toml"
    config.write_text(
        f'database_url = "{settings.effective_database_url}"\n'
        f'sealing_key = "{settings.sealing_key.get_secret_value()}"\n'  # type: ignore[union-attr]
        f'data_dir = "{tmp_path}"\n'
    )
    before = datetime.now(UTC).date()
    args = ["-c", str(config), "report", "compliance", "--format", "json"]
    result = CliRunner().invoke(cli, args)
    after = datetime.now(UTC).date()
    assert result.exit_code == 0, result.output
    period = json.loads(result.stdout)["figures"]["period"]
    expected = [
        {
            "from": datetime.combine(today - timedelta(days=29), time.min, UTC).isoformat(),
            "to": datetime.combine(today + timedelta(days=1), time.min, UTC).isoformat(),
        }
        for today in {before, after}
    ]
    assert period in expected, period


def test_metrics_endpoint_exposes_the_figures(recovered: World) -> None:
    recovered.svc.settings = recovered.svc.settings.model_copy(update={"metrics_enabled": True})
    with TestClient(create_app(recovered.svc)) as api:
        response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'custos_cases_total{state="completed"} 2.0' in text
    assert 'custos_cases_total{state="needs_attention"} 1.0' in text
    assert 'custos_recoveries_total{channel="self_service",tier="standard"} 2.0' in text
    assert 'custos_proofing_failures_total{method="email_code"} 1.0' in text
    assert 'custos_propagation_failures_total{target="cloud"} 1.0' in text
    assert "custos_dual_control_ratio 0.5" in text
    assert 'custos_time_to_restore_seconds{quantile="0.95"} 600.0' in text
    assert "custos_exceptions_used_total 0.0" in text
