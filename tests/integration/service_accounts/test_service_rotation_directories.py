"""Rotation of a service account linked to the built-in directory, a real
slapd and a real SCIM 2.0 server at once (R-40): the built-in directory keeps
the old password for the grace period and the worker revokes it afterwards;
slapd and SCIM cannot hold two passwords, so the old one stops at once and the
case says so, naming each target. Neither reports logons (R-42): the report
says so per target."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from servers.scim import ScimServer, scim_target
from servers.slapd import SlapdServer
from service_world import link_token, owner, rotate, service_account
from sqlalchemy import select

from conftest import World, make_world
from custos.domain.events import EventType
from custos.domain.model import LinkedAccount
from custos.domain.states import CaseState
from custos.propagation.worker import Worker
from custos.service.service_accounts import interactive, issuing
from custos.store.tables import ledger

OLD = "Old-service-password-0001"


@pytest.fixture
def three_targets(
    tmp_path: Path, slapd_server: SlapdServer, scim_server: ScimServer
) -> Iterator[World]:
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        targets={
            "directory": {"kind": "builtin"},
            "ldap": slapd_server.target(),
            "cloud": scim_target(scim_server),
        },
    )
    yield world
    world.svc.engine.dispose()


def _events(world: World, kind: EventType) -> list[tuple[str, str]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.case_id, ledger.c.canonical).where(ledger.c.type == str(kind))
        )
        return [(r.case_id, r.canonical) for r in rows]


def test_rotation_with_grace_on_the_builtin_directory_and_at_once_on_slapd_and_scim(
    three_targets: World, slapd_server: SlapdServer, scim_server: ScimServer
) -> None:
    """R-40 against real targets: after propagation the new value opens all
    three; the old one still opens the built-in directory (grace) but no longer
    slapd or SCIM; the case records a grace start for one target and an
    immediate replacement for the other two; after the grace period the
    worker revokes the old one, and only then is a revocation recorded."""
    world = three_targets
    uid = f"svc{secrets.token_hex(3)}"
    dn = slapd_server.add_user(uid, OLD)
    scim_server.create_user(uid, OLD)
    owner(world, "ana")
    service_account(
        world,
        uid,
        ("ana",),
        accounts=(
            LinkedAccount("directory", uid),
            LinkedAccount("ldap", uid),
            LinkedAccount("cloud", uid),
        ),
    )
    world.directory.create_account(uid, OLD)
    case_id = rotate(world, "ana", uid)
    world.drain()
    with world.svc.uow(read_only=True) as uow:
        assert uow.cases.get(case_id).state == CaseState.COMPLETED
    value = issuing.retrieve(world.svc, token=link_token(world, "ana", case_id)).secret
    assert slapd_server.can_bind(dn, value) and scim_server.can_login(uid, value)
    assert world.directory.authenticate(uid, value)
    assert not slapd_server.can_bind(dn, OLD)
    assert not scim_server.can_login(uid, OLD)
    assert world.directory.authenticate(uid, OLD)
    at_once = _events(world, EventType.CREDENTIAL_REPLACED_AT_ONCE)
    assert sorted('"target":"ldap"' in c for _, c in at_once) == [False, True]
    assert sorted('"target":"cloud"' in c for _, c in at_once) == [False, True]
    assert all("cannot hold two credentials" in c for _, c in at_once)
    kept = _events(world, EventType.CREDENTIAL_GRACE_STARTED)
    assert len(kept) == 1 and '"target":"directory"' in kept[0][1]
    assert _events(world, EventType.CREDENTIAL_OLD_REVOKED) == []
    world.clock.advance(timedelta(hours=24, minutes=1))
    Worker(world.svc, owner="t").run_once()
    assert not world.directory.authenticate(uid, OLD)
    assert world.directory.authenticate(uid, value)
    assert [c for c, _ in _events(world, EventType.CREDENTIAL_OLD_REVOKED)] == [case_id]


def test_targets_without_logon_data_say_they_cannot_report_interactive_use(
    three_targets: World,
) -> None:
    """R-42: slapd, SCIM and the built-in directory record no logons: each says so."""
    world = three_targets
    owner(world, "ana")
    service_account(
        world,
        "svc-report",
        ("ana",),
        accounts=(LinkedAccount("ldap", "svc-report"), LinkedAccount("cloud", "svc-report")),
    )
    reports = interactive.check(world.svc, service_id="svc-report", actor="admin:test")
    assert [(r.target, r.status) for r in reports] == [
        ("cloud", interactive.CANNOT_REPORT),
        ("ldap", interactive.CANNOT_REPORT),
    ]
    assert all("cannot report logons" in r.detail for r in reports)
