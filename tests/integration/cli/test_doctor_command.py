"""``custos doctor``: each check passes on a sound deployment and fails with a
clear message when its part is wrong (real PostgreSQL and slapd)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli_runner import run_cli
from servers.slapd import SlapdServer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from conftest import PG_URL, World, pg_schema
from custos.config import Settings, load_settings
from custos.ledger.signing import KeyRing
from custos.service.doctor.checks import Finding, run_all
from custos.store.database import make_engine, upgrade


def _now() -> datetime:
    return datetime.now(UTC)


def _settings(world: World, **changes: Any) -> Callable[[], Settings]:
    s = world.svc.settings
    values: dict[str, Any] = {
        "data_dir": s.data_dir,
        "database_url": s.effective_database_url,
        "outbox_dir": s.effective_outbox,
    }
    if s.sealing_key is not None:
        values["sealing_key"] = s.sealing_key.get_secret_value()
    values.update(changes)
    return lambda: load_settings(None, **values)


def _ledger_key(world: World) -> None:
    KeyRing(world.svc.settings.effective_ledger_keys_dir).ensure(_now())


def _failed(findings: list[Finding]) -> dict[str, str]:
    return {f.check: f.detail for f in findings if not f.ok}


def _doctor(world: World, now: Callable[[], datetime] = _now, **changes: Any) -> dict[str, str]:
    engines: Callable[[str], Engine] = make_engine
    return _failed(run_all(_settings(world, **changes), engines, now))


def test_doctor_finds_nothing_wrong_on_a_sound_deployment_with_slapd(
    world: World, slapd_server: SlapdServer
) -> None:
    """Keys private, schema at the newest revision, clocks agree, an LDAP target
    reachable over StartTLS with a verified certificate."""
    _ledger_key(world)
    targets = {"openldap": slapd_server.target().model_dump(mode="json")}
    targets["openldap"]["bind_password"] = {"value": slapd_server.service_password}
    findings = run_all(_settings(world, targets=targets), make_engine, _now)
    assert _failed(findings) == {}
    assert "tls" in next(f.detail for f in findings if f.check == "target openldap")


def test_doctor_cli_prints_problems_and_exits_non_zero_when_a_check_fails(
    world: World,
) -> None:
    """One screen, every check named, exit 1 (no ledger key yet here)."""
    result = run_cli(world, "doctor")
    assert result.exit_code == 1, result.output
    for check in ("configuration", "sealing key", "database", "migration level", "clock"):
        assert check in result.output
    assert "no ledger signing key" in result.output
    assert "1 problem(s)" in result.output


def test_doctor_cli_exits_zero_when_all_is_well(world: World) -> None:
    _ledger_key(world)
    result = run_cli(world, "doctor")
    assert (result.exit_code, "no problem found" in result.output) == (0, True), result.output


def test_doctor_reports_an_invalid_configuration(world: World) -> None:
    """A bad value is named with the config_invalid id; nothing else is checked."""
    findings = run_all(_settings(world, worker={"max_attempts": "many"}), make_engine, _now)
    assert [f.check for f in findings] == ["configuration"]
    assert "config_invalid" in findings[0].detail
    assert "max_attempts" in findings[0].detail


def test_doctor_reports_a_sealing_key_file_others_can_read(key_file_world: World) -> None:
    _ledger_key(key_file_world)
    key = key_file_world.svc.settings.effective_key_file
    os.chmod(key, 0o644)
    failed = _doctor(key_file_world)
    assert failed == {
        "sealing key": f"sealing key file {key} must not be readable by others (chmod 600)"
    }


def test_doctor_reports_a_ledger_key_others_can_read(world: World) -> None:
    _ledger_key(world)
    folder = world.svc.settings.effective_ledger_keys_dir
    private = next(folder.glob("*.key"))
    os.chmod(private, 0o640)
    assert "chmod 600" in _doctor(world)["ledger signing key"]


def test_doctor_reports_an_old_migration_level_on_postgresql(world: World) -> None:
    """A PostgreSQL schema left at an older revision: run 'custos db upgrade'."""
    _ledger_key(world)
    with pg_schema() as url:
        engine = make_engine(url)
        upgrade(engine, "0016")
        engine.dispose()
        failed = _doctor(world, database_url=url)
    assert set(failed) == {"migration level"}
    assert failed["migration level"].startswith("at 0016, this release expects ")
    assert failed["migration level"].endswith("run 'custos db upgrade'")


def test_doctor_reports_an_unreachable_database(world: World) -> None:
    _ledger_key(world)
    url = make_url(PG_URL).set(port=1).render_as_string(hide_password=False)
    failed = _doctor(world, database_url=url)
    assert failed["database"].startswith("cannot reach postgresql+psycopg://postgres@127.0.0.1:1/")


def test_doctor_reports_a_missing_sqlite_database_without_creating_it(
    world: World, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "custos.db"
    failed = _doctor(world, database_url=f"sqlite:///{missing}")
    assert failed["database"] == f"no database at {missing}: run 'custos db upgrade'"
    assert not missing.exists()


def test_doctor_reports_clock_skew_against_postgresql(world: World) -> None:
    """This host's clock ten minutes ahead of the database's (PostgreSQL's now())."""
    _ledger_key(world)
    with pg_schema() as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        failed = _doctor(world, lambda: _now() + timedelta(minutes=10), database_url=url)
    assert set(failed) == {"clock"}
    assert "more than 5 s" in failed["clock"] and "NTP" in failed["clock"]


def test_doctor_reports_an_ldap_target_without_tls(world: World, slapd_server: SlapdServer) -> None:
    """Plain LDAP (allowed on loopback for tests) fails the target's TLS step."""
    _ledger_key(world)
    target = slapd_server.target(start_tls=False, allow_insecure_transport=True)
    targets = {"openldap": target.model_dump(mode="json")}
    targets["openldap"]["bind_password"] = {"value": slapd_server.service_password}
    failed = _doctor(world, targets=targets)
    assert set(failed) == {"target openldap"}
    assert failed["target openldap"].startswith("tls: ")


def test_doctor_reports_an_unreachable_ldap_target(world: World, slapd_server: SlapdServer) -> None:
    _ledger_key(world)
    target = slapd_server.target(url="ldap://127.0.0.1:1/")
    targets = {"openldap": target.model_dump(mode="json")}
    targets["openldap"]["bind_password"] = {"value": slapd_server.service_password}
    failed = _doctor(world, targets=targets)
    assert set(failed) == {"target openldap"}
    assert failed["target openldap"].startswith("connect: cannot reach 127.0.0.1:1")
