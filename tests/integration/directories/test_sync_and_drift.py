"""``subjects sync`` and ``drift`` over two built-in directories (the contract
suite proves the real directories behave the same through the SPI)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from recoveries import self_service_recovery
from typer.testing import CliRunner

from conftest import World, make_world
from custos.cli.main import app
from custos.connectors.builtin import BuiltinDirectory
from custos.domain.model import Subject
from custos.service.directories.drift import check_drift
from custos.service.directories.sync import sync_subjects
from custos.store.tables import linked_accounts

TARGETS = {
    "directory": {"kind": "builtin", "identity_source": True},
    "cloud": {"kind": "builtin"},
}


@pytest.fixture
def two_targets(tmp_path: Path) -> Iterator[World]:
    world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, targets=TARGETS)
    yield world
    world.svc.engine.dispose()


def _links(world: World) -> set[tuple[str, str, str]]:
    with world.svc.uow() as uow:
        return {
            (r.subject_id, r.target, r.account_id)
            for r in uow.conn.execute(linked_accounts.select())
        }


def test_sync_creates_subjects_from_the_identity_source_and_links_other_targets(
    two_targets: World,
) -> None:
    directory = BuiltinDirectory("directory", two_targets.svc.engine)
    cloud = BuiltinDirectory("cloud", two_targets.svc.engine)
    for name in ("ana", "ben"):
        directory.create_account(name)
    cloud.create_account("ana")
    cloud.create_account("stray")
    report = sync_subjects(two_targets.svc)
    assert sorted(report.created) == ["ana", "ben"]
    assert _links(two_targets) == {
        ("ana", "directory", "ana"),
        ("ana", "cloud", "ana"),
        ("ben", "directory", "ben"),
    }
    assert report.orphans == ["cloud/stray: no subject 'stray' and no identity source lists it"]
    again = sync_subjects(two_targets.svc)
    assert again.created == [] and again.linked == [] and again.unchanged == 3


def test_sync_reports_a_conflict_instead_of_guessing(two_targets: World) -> None:
    two_targets.subject("cara")  # linked to directory/cara by the fixture helper
    cloud = BuiltinDirectory("cloud", two_targets.svc.engine)
    cloud.create_account("cara")
    with two_targets.svc.uow() as uow:  # someone linked cloud/cara to another subject
        uow.subjects.add(Subject(id="other", display_name="Other"), now=two_targets.clock.now())
        uow.conn.execute(
            linked_accounts.insert().values(target="cloud", account_id="cara", subject_id="other")
        )
        uow.commit()
    report = sync_subjects(two_targets.svc)
    assert any("several subjects" in c and "cara" in c for c in report.conflicts)
    assert ("cara", "cloud", "cara") not in _links(two_targets)


def test_sync_notices_a_linked_account_gone_from_its_target(two_targets: World) -> None:
    two_targets.subject("dora")
    with two_targets.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.insert().values(target="cloud", account_id="dora", subject_id="dora")
        )
        uow.commit()
    report = sync_subjects(two_targets.svc, dry_run=True)
    assert report.orphans == ["cloud/dora: linked to 'dora' but missing from the target"]


def _recover(world: World, subject: str) -> str:
    return self_service_recovery(world, subject, password="amber-falcon-quiet-73-river")


def test_drift_reports_an_account_whose_password_was_rolled_back(sqlite_world: World) -> None:
    sqlite_world.subject("eve")
    _recover(sqlite_world, "eve")
    sqlite_world.drain()
    assert [f.status for f in check_drift(sqlite_world.svc)] == ["landed"]
    # Someone restores the directory from a backup taken before the recovery.
    from custos.connectors.builtin_tables import builtin_accounts

    with sqlite_world.svc.uow() as uow:
        uow.conn.execute(
            builtin_accounts.update().values(
                password_changed_at=sqlite_world.clock.now().replace(year=2020)
            )
        )
        uow.commit()
    findings = check_drift(sqlite_world.svc)
    assert [(f.subject_id, f.status) for f in findings] == [("eve", "drifted")]
    assert "before the recovery" in findings[0].detail


def test_cli_drift_and_connector_commands(tmp_path: Path) -> None:
    # The CLI runs on the real clock, so this world starts now.
    sqlite_world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, start=datetime.now(UTC)
    )
    sqlite_world.subject("finn")
    _recover(sqlite_world, "finn")
    sqlite_world.drain()
    settings = sqlite_world.svc.settings
    assert settings.sealing_key is not None
    env = {
        "CUSTOS_DATABASE_URL": settings.effective_database_url,
        "CUSTOS_SEALING_KEY": settings.sealing_key.get_secret_value(),
    }
    runner = CliRunner()
    base = ["--data-dir", str(settings.data_dir)]
    listed = runner.invoke(app, [*base, "connector", "list"], env=env)
    assert listed.exit_code == 0 and "directory" in listed.stdout and "builtin" in listed.stdout
    tested = runner.invoke(app, [*base, "connector", "test", "directory"], env=env)
    assert tested.exit_code == 0 and "ok" in tested.stdout
    missing = runner.invoke(app, [*base, "connector", "test", "nowhere"], env=env)
    assert missing.exit_code == 1 and "not_found" in missing.stderr
    drift = runner.invoke(app, [*base, "drift"], env=env)
    assert drift.exit_code == 0, drift.stdout
    assert "landed" in drift.stdout
