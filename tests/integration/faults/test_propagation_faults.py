"""Faults against real directories: a target stopped in the middle of a recovery,
a worker killed with SIGKILL mid-propagation, a password the domain refuses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from recoveries import self_service_recovery
from servers.samba import SambaDC, ad_target
from servers.slapd import SlapdServer
from sqlalchemy import func, select

from conftest import World, make_world, pg_schema
from custos.domain.states import CaseState
from custos.store.receipt_repository import ReceiptState
from custos.store.tables import linked_accounts, receipts

PASSWORD = "Harbour-Lantern-Quiet-73-River"
#: Enough receipts that the worker (one per pass) is still busy when it is killed.
KILL_ACCOUNTS = 40


def _world(backend: str, tmp_path: Path, **targets: Any) -> Iterator[World]:
    config = {"directory": {"kind": "builtin"}, **targets}
    if backend == "sqlite":
        world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, targets=config)
        yield world
        world.svc.engine.dispose()
        return
    with pg_schema() as url:
        world = make_world(url, tmp_path, targets=config)
        yield world
        world.svc.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def ldap_world(
    request: pytest.FixtureRequest, tmp_path: Path, slapd_server: SlapdServer
) -> Iterator[World]:
    yield from _world(request.param, tmp_path, ldap=slapd_server.target())


def _link(world: World, subject: str, target: str) -> None:
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.insert().values(target=target, account_id=subject, subject_id=subject)
        )
        uow.commit()


def _only_ldap(world: World, subject: str) -> None:
    """Link the subject to its LDAP account only (the built-in directory's argon2
    writes would dominate this test's time)."""
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.update()
            .where(linked_accounts.c.subject_id == subject)
            .values(target="ldap")
        )
        uow.commit()


def _redeem(world: World, subject: str, password: str = PASSWORD) -> str:
    return self_service_recovery(world, subject, password=password, source_address="10.2.2.2")


def _case(world: World, case_id: str) -> Any:
    with world.svc.uow() as uow:
        return uow.cases.get(case_id), {r.target: r for r in uow.receipts.for_case(case_id)}


def test_target_stopped_mid_recovery_waits_retries_and_completes(
    ldap_world: World, slapd_server: SlapdServer
) -> None:
    """The directory goes down after the subject chose a password: the case waits
    in executing, retries with backoff and completes once the directory is back."""
    world = ldap_world
    uid = f"stop-{os.getpid()}-{time.monotonic_ns() % 100000}"
    world.subject(uid)
    dn = slapd_server.add_user(uid, "Initial-Password-123")
    _link(world, uid, "ldap")
    case_id = _redeem(world, uid)
    slapd_server.stop()
    try:
        world.drain()
        case, by_target = _case(world, case_id)
        assert case.state == CaseState.EXECUTING
        assert by_target["directory"].state == ReceiptState.SUCCEEDED
        assert by_target["ldap"].state == ReceiptState.RETRYABLE_FAILURE
        assert by_target["ldap"].last_error == "ConnectionFailed"
    finally:
        slapd_server.start()
    world.clock.advance(timedelta(minutes=1))
    world.drain()
    case, by_target = _case(world, case_id)
    assert case.state == CaseState.COMPLETED
    assert by_target["ldap"].attempts == 2
    assert slapd_server.can_bind(dn, PASSWORD)


def _worker(world: World, tmp_path: Path, slapd: SlapdServer) -> subprocess.Popen[bytes]:
    settings = world.svc.settings
    assert settings.sealing_key is not None
    config = tmp_path / "worker.toml"
    config.write_text(f"""
database_url = "{settings.effective_database_url}"
data_dir = "{tmp_path}"

[worker]
lease_s = 5
batch = 1
parallelism = 1
poll_interval_s = 0.1

[targets.directory]
kind = "builtin"

[targets.ldap]
kind = "ldap"
url = "{slapd.ldaps_url}"
ca_file = "{slapd.ca_file}"
bind_dn = "{slapd.service_dn}"
bind_password = {{ value = "{slapd.service_password}" }}
user_base = "{slapd.people_base}"
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["CUSTOS_SEALING_KEY"] = settings.sealing_key.get_secret_value()
    return subprocess.Popen(
        [sys.executable, "-m", "custos.cli.main", "--config", str(config), "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _count(world: World, *states: ReceiptState) -> int:
    """Receipts in ``states``, read outside any transaction: on SQLite a unit of
    work would take the write lock and slow the worker under observation."""
    query = (
        select(func.count())
        .select_from(receipts)
        .where(receipts.c.target == "ldap", receipts.c.state.in_([str(s) for s in states]))
    )
    with world.svc.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return int(conn.execute(query).scalar_one())


def test_worker_killed_mid_propagation_loses_nothing(
    ldap_world: World, slapd_server: SlapdServer, tmp_path: Path
) -> None:
    """SIGKILL a worker while it holds leases: another worker resumes from the
    receipts after the lease; every receipt lands, each account ends with its own
    case's secret, none is lost."""
    world = ldap_world
    passwords: dict[str, str] = {}
    dns: dict[str, str] = {}
    for i in range(KILL_ACCOUNTS):
        uid = f"kill-{os.getpid()}-{i}-{time.monotonic_ns() % 100000}"
        world.subject(uid)
        dns[uid] = slapd_server.add_user(uid, "Initial-Password-123")
        _only_ldap(world, uid)
        passwords[uid] = f"{PASSWORD}-{i}"
        # One source each: per-source limits would hold back a single caller.
        self_service_recovery(world, uid, password=passwords[uid], source_address=f"10.3.0.{i}")
    total = _count(world, *ReceiptState)
    first = _worker(world, tmp_path, slapd_server)
    try:
        deadline = time.monotonic() + 60
        while _count(world, ReceiptState.SUCCEEDED) == 0:
            assert first.poll() is None, first.stderr.read() if first.stderr else ""
            assert time.monotonic() < deadline, "the first worker never recorded a receipt"
            time.sleep(0.005)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        landed_at_kill = _count(world, ReceiptState.SUCCEEDED)
        assert 0 < landed_at_kill < total, "the kill came too late to test a resume"
        second = _worker(world, tmp_path, slapd_server)
        try:
            deadline = time.monotonic() + 90
            while _count(world, ReceiptState.SUCCEEDED) < total:
                assert second.poll() is None, second.stderr.read() if second.stderr else ""
                assert time.monotonic() < deadline, "the second worker did not finish"
                time.sleep(0.1)
        finally:
            second.terminate()
            second.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert _count(world, ReceiptState.FAILED, ReceiptState.RETRYABLE_FAILURE) == 0
    for uid, password in passwords.items():
        assert slapd_server.can_bind(dns[uid], password), uid


@pytest.fixture
def ad_world(tmp_path: Path, samba_dc: SambaDC) -> Iterator[World]:
    yield from _world("sqlite", tmp_path, ad=ad_target(samba_dc))


def test_password_the_domain_refuses_is_reported_and_not_done(
    ad_world: World, samba_dc: SambaDC
) -> None:
    """Custos accepts a long passphrase the domain's complexity rule refuses: the
    case names the refusal, never reports the recovery done, and the old AD
    password still works."""
    world = ad_world
    sam = f"weak{os.getpid() % 10000}{time.monotonic_ns() % 1000}"
    world.subject(sam)
    samba_dc.add_user(sam, "Initial-Password-123")
    _link(world, sam, "ad")
    refused = "quiet lantern harbour meadow orbit"  # strong for zxcvbn, no AD complexity
    case_id = _redeem(world, sam, refused)
    world.drain()
    case, by_target = _case(world, case_id)
    assert case.state == CaseState.NEEDS_ATTENTION
    assert "ad/" in case.outcome_reason
    assert by_target["ad"].state == ReceiptState.FAILED
    assert by_target["ad"].last_error == "PasswordPolicy"
    assert "refused the password" in (by_target["ad"].answer or "")
    assert refused not in (by_target["ad"].answer or "")
    assert samba_dc.can_login(sam, "Initial-Password-123")
    assert not samba_dc.can_login(sam, refused)
