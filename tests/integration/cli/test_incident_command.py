"""``custos incident start|stop|list``: a global or per-group incident switch
that every recovery opened meanwhile carries as a risk signal."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from custos.bootstrap import bootstrap
from custos.cli.main import app
from custos.config import load_settings
from custos.credentials.keys import MasterKey
from custos.domain.model import Channel, Employment, Subject, SubjectKind
from custos.service.recovery import opening
from custos.service.signals import risk_signals
from custos.store.tables import ledger


@pytest.fixture
def key() -> str:
    return MasterKey.generate().to_b64()


def run(tmp: Path, key: str, *args: str) -> Result:
    env: dict[str, str | None] = {
        "CUSTOS_SEALING_KEY": key,
        "CUSTOS_CONFIG": None,
        "CUSTOS_DATABASE_URL": None,
        "CUSTOS_OUTBOX_DIR": None,
        "CUSTOS_SEALING_KEY_FILE": None,
    }
    return CliRunner().invoke(app, ["--data-dir", str(tmp), *args], env=env)


def test_incident_start_list_stop_round_trip(tmp_path: Path, key: str) -> None:
    assert run(tmp_path, key, "db", "upgrade").exit_code == 0
    started = run(tmp_path, key, "incident", "start", "--group", "finance", "-r", "phish")
    assert started.exit_code == 0, started.output
    assert "group 'finance'" in started.stdout
    listed = run(tmp_path, key, "incident", "list")
    assert "group 'finance'" in listed.stdout and "phish" in listed.stdout
    twice = run(tmp_path, key, "incident", "start", "--group", "finance")
    assert twice.exit_code == 1 and "[invalid_input]" in twice.stderr
    stopped = run(tmp_path, key, "incident", "stop", "--group", "finance")
    assert stopped.exit_code == 0 and "stopped" in stopped.stdout
    assert run(tmp_path, key, "incident", "stop").exit_code == 1  # no global incident
    assert "no incident is running" in run(tmp_path, key, "incident", "list").stdout
    svc = bootstrap(load_settings(None, data_dir=tmp_path, sealing_key=key))
    with svc.engine.connect() as conn:
        types = [r.type for r in conn.execute(ledger.select())]
    assert types == ["admin:incident:started", "admin:incident:stopped"]


def test_a_global_incident_reaches_every_new_case(tmp_path: Path, key: str) -> None:
    assert run(tmp_path, key, "db", "upgrade").exit_code == 0
    assert run(tmp_path, key, "incident", "start").exit_code == 0
    svc = bootstrap(load_settings(None, data_dir=tmp_path, sealing_key=key))
    subject = Subject(
        id="zed", display_name="Zed", kind=SubjectKind.HUMAN, employment=Employment.EMPLOYEE
    )
    with svc.uow() as uow:
        uow.subjects.add(subject, now=svc.clock.now())
        case = opening.open_case(
            svc,
            uow,
            subject=subject,
            channel=Channel.HELPDESK,
            reason="caller",
            requested_by="operator:test",
            requester_person="test",
            source_address=None,
            now=svc.clock.now(),
        )
        uow.commit()
    assert "security incident in progress (+20)" in case.risk.reasons
    assert [i.scope for i in risk_signals.incidents(svc)] == [risk_signals.GLOBAL_SCOPE]
