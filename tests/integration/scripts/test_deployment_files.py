"""The deployment files in deploy/ (docs/deployment.md): systemd units that
``systemd-analyze verify`` accepts and that keep their hardening, and a compose
file and Containerfile that say what they run. No image is built here (none can
be pulled); the units are verified, not started (no systemd runs here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
#: Where the units expect Custos (a venv at /opt/custos).
INSTALLED = "/opt/custos/bin/custos"
HARDENING = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "User=custos",
    "LoadCredential=sealing.key:/etc/custos/sealing.key",
    "Environment=CUSTOS_SEALING_KEY_FILE=%d/sealing.key",
    "CapabilityBoundingSet=",
)


def _installed_here(unit: Path, folder: Path) -> Path:
    """The unit as installed on this machine: its ExecStart binary is this
    venv's ``custos`` (systemd-analyze checks that it exists and runs), nothing
    else changed."""
    text = unit.read_text()
    assert f"ExecStart={INSTALLED} " in text, unit.name
    custos = Path(sys.executable).parent / "custos"
    assert custos.exists(), custos
    copy = folder / unit.name
    copy.write_text(text.replace(INSTALLED, str(custos)))
    return copy


def _verify(*units: Path) -> subprocess.CompletedProcess[str]:
    assert shutil.which(SYSTEMD_ANALYZE), "systemd-analyze is needed for this test"
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_units_pass_systemd_analyze_verify_when_custos_is_installed(tmp_path: Path) -> None:
    """The API and worker units load without a warning (an unknown key, a bad
    value or a missing binary would be one)."""
    assert [u.name for u in UNITS] == ["custos-api.service", "custos-worker.service"]
    verified = _verify(*(_installed_here(u, tmp_path) for u in UNITS))
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")


@pytest.mark.parametrize("broken", ["NoNewPrivilege=yes", "ProtectSystem=strictest"])
def test_systemd_analyze_reports_a_unit_with_a_mistake(tmp_path: Path, broken: str) -> None:
    """The check above would catch a misspelt hardening key or value."""
    unit = _installed_here(UNITS[0], tmp_path)
    unit.write_text(unit.read_text().replace("[Install]", f"{broken}\n\n[Install]"))
    verified = _verify(unit)
    assert verified.stdout + verified.stderr != ""


def test_systemd_analyze_reports_a_missing_binary(tmp_path: Path) -> None:
    """As shipped (no Custos in /opt/custos here) the unit is refused: the
    verification above runs against a real executable."""
    unit = tmp_path / UNITS[0].name
    unit.write_text(UNITS[0].read_text().replace(INSTALLED, str(tmp_path / "no-custos")))
    verified = _verify(unit)
    assert verified.returncode != 0
    assert "not executable" in verified.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_units_keep_their_hardening(unit: Path) -> None:
    """A dedicated user, no new privileges, a read-only system, the sealing key
    handed over as a credential."""
    lines = set(unit.read_text().splitlines())
    assert [h for h in HARDENING if h not in lines] == []


def test_compose_runs_api_worker_and_postgresql_after_the_migration() -> None:
    """The compose file: PostgreSQL, a one-shot ``db upgrade``, then the API and
    the worker from the Containerfile, the sealing key as a secret."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert sorted(services) == ["api", "db", "migrate", "worker"]
    assert [services[s]["command"] for s in ("migrate", "api", "worker")] == [
        ["db", "upgrade"],
        ["serve"],
        ["worker"],
    ]
    for name in ("api", "worker"):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Containerfile"
        assert service["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert service["environment"]["CUSTOS_DATABASE_URL"].endswith("@db/custos")
        assert service["secrets"][0]["source"] == "sealing_key"
    containerfile = (DEPLOY / "Containerfile").read_text()
    assert "USER custos" in containerfile
    assert 'ENTRYPOINT ["custos"]' in containerfile
