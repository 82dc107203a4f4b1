"""Service-account owners from a real Samba AD domain controller, synced by
``custos subjects sync`` (the real CLI, in a subprocess, configured by a TOML
file): every value of the mapped owner attribute becomes one of the service
account's owners, and the synced owners decide who may ask for a rotation
through the API (R-39, R-40; docs/service-accounts.md).

AD keeps ``managedBy`` on groups, computers and OUs only: the DC refuses it on
a user object, and Custos syncs user objects. So the mapping names the owners
in a multi-valued DN attribute the user class allows (``seeAlso`` here)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import ldap
import pytest
from fastapi.testclient import TestClient
from servers.samba import SambaDC, ad_target, strong_password
from sqlalchemy import select

from conftest import World, make_world
from custos.api.app import create_app
from custos.domain.model import SubjectKind
from custos.service.enrolment import subject_sessions
from custos.store.tables import ledger

PASSWORD_ENV = "CUSTOS_TEST_AD_BIND_PASSWORD"


@dataclass(frozen=True)
class Team:
    """An OU of its own (a test's users only) with a ``Service Accounts`` OU."""

    base: str
    services: str


@pytest.fixture
def team(samba_dc: SambaDC) -> Team:
    base = f"OU=team-{secrets.token_hex(3)},{samba_dc.base_dn}"
    services = f"OU=Service Accounts,{base}"
    conn = samba_dc.admin()
    try:
        for dn in (base, services):
            conn.add_s(dn, [("objectClass", [b"organizationalUnit"])])
    finally:
        conn.unbind_s()
    return Team(base, services)


def _mapping() -> dict[str, object]:
    return {
        "kind_dn_contains": {"OU=Service Accounts": "service"},
        "owner_attribute": "seeAlso",
        "email_attribute": "mail",
    }


def _toml(samba_dc: SambaDC, team: Team) -> str:
    return "\n".join(
        [
            '[targets.directory]\nkind = "builtin"',
            "[targets.ad]",
            'kind = "active_directory"',
            f'url = "{samba_dc.ldaps_url}"',
            f'ca_file = "{samba_dc.ca_file}"',
            f'bind_dn = "{samba_dc.admin_dn}"',
            f'user_base = "{team.base}"',
            "identity_source = true",
            f'bind_password = {{ env = "{PASSWORD_ENV}" }}',
            "[targets.ad.mapping]",
            'kind_dn_contains = { "OU=Service Accounts" = "service" }',
            'owner_attribute = "seeAlso"',
            'email_attribute = "mail"',
            "",
        ]
    )


@pytest.fixture
def ad_world(tmp_path: Path, samba_dc: SambaDC, team: Team) -> Iterator[World]:
    target = ad_target(samba_dc, user_base=team.base, identity_source=True, mapping=_mapping())
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        start=datetime.now(UTC),
        targets={"directory": {"kind": "builtin"}, "ad": target},
    )
    yield world
    world.svc.engine.dispose()


def _add_user(samba_dc: SambaDC, sam: str, base: str, password: str, **attrs: list[str]) -> str:
    from custos.connectors.active_directory import encode_unicode_pwd

    dn = f"CN={sam},{base}"
    conn = samba_dc.admin()
    try:
        conn.add_s(
            dn,
            [
                ("objectClass", [b"user"]),
                ("sAMAccountName", [sam.encode()]),
                ("userPrincipalName", [f"{sam}@custos.test".encode()]),
                ("unicodePwd", [encode_unicode_pwd(password)]),
                ("userAccountControl", [b"512"]),
                ("mail", [f"{sam}@example.org".encode()]),
                *[(name, [v.encode() for v in values]) for name, values in attrs.items()],
            ],
        )
    finally:
        conn.unbind_s()
    return dn


def _sync(world: World, samba_dc: SambaDC, team: Team) -> subprocess.CompletedProcess[str]:
    config = world.svc.settings.data_dir / "custos.toml"
    config.write_text(_toml(samba_dc, team), encoding="utf-8")
    settings = world.svc.settings
    assert settings.sealing_key is not None
    env = {
        **os.environ,
        "CUSTOS_DATABASE_URL": settings.effective_database_url,
        "CUSTOS_SEALING_KEY": settings.sealing_key.get_secret_value(),
        PASSWORD_ENV: samba_dc.admin_password,
        "COLUMNS": "250",
    }
    custos = str(Path(sys.executable).parent / "custos")
    return subprocess.run(
        [custos, "--config", str(config), "--data-dir", str(settings.data_dir), "subjects", "sync"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_ad_refuses_managed_by_on_a_user_object(samba_dc: SambaDC, team: Team) -> None:
    """Why the mapping below does not read ``managedBy``: the DC's schema has
    it on groups, computers and OUs, not on users (objectClassViolation)."""
    owner_dn = _add_user(samba_dc, f"own{secrets.token_hex(3)}", team.base, strong_password())
    service_dn = _add_user(samba_dc, f"svc{secrets.token_hex(3)}", team.services, strong_password())
    conn = samba_dc.admin()
    try:
        with pytest.raises(ldap.OBJECT_CLASS_VIOLATION):
            conn.modify_s(service_dn, [(ldap.MOD_REPLACE, "managedBy", [owner_dn.encode()])])
    finally:
        conn.unbind_s()


def test_owners_synced_from_ad_by_the_cli_decide_who_may_ask_for_a_rotation(
    ad_world: World, samba_dc: SambaDC, team: Team
) -> None:
    """R-39: a service account in ``OU=Service Accounts`` names two owners
    (two ``seeAlso`` values). After ``custos subjects sync`` it is a service
    account whose owners are both people in the directory's order; the second
    owner, signed in with their AD password, opens a rotation (201, an
    ``owner_request`` case in proofing) while a person who is no owner is
    refused with ``not_service_owner`` (403) and the refusal is recorded."""
    suffix = secrets.token_hex(3)
    ana, ben, cy, svc = f"ana{suffix}", f"ben{suffix}", f"cy{suffix}", f"svc{suffix}"
    passwords = {name: strong_password() for name in (ana, ben, cy)}
    ana_dn = _add_user(samba_dc, ana, team.base, passwords[ana])
    ben_dn = _add_user(samba_dc, ben, team.base, passwords[ben])
    _add_user(samba_dc, cy, team.base, passwords[cy])
    _add_user(samba_dc, svc, team.services, strong_password(), seeAlso=[ana_dn, ben_dn])

    synced = _sync(ad_world, samba_dc, team)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert "subjects created : 4" in synced.stdout, synced.stdout
    with ad_world.svc.uow(read_only=True) as uow:
        service = uow.subjects.get(svc)
        owner = uow.subjects.get(ben)
    assert service is not None and service.kind == SubjectKind.SERVICE
    assert service.owners == (ana, ben) and service.owner == ana
    assert service.attribute_sources["owners"] == "ad: seeAlso"
    assert owner is not None and owner.kind == SubjectKind.HUMAN

    with TestClient(create_app(ad_world.svc)) as api:
        path = f"/api/v1/me/service-accounts/{svc}/rotations"
        as_ben = subject_sessions.sign_in(ad_world.svc, identifier=ben, password=passwords[ben])
        opened = api.post(
            path,
            json={"reason": "yearly rotation"},
            headers={"Authorization": f"Bearer {as_ben.token}"},
        )
        as_cy = subject_sessions.sign_in(ad_world.svc, identifier=cy, password=passwords[cy])
        refused = api.post(
            path,
            json={"reason": "mine now"},
            headers={"Authorization": f"Bearer {as_cy.token}"},
        )
    assert opened.status_code == 201, opened.text
    assert opened.json()["state"] == "proofing"
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["id"] == "not_service_owner"
    with ad_world.svc.uow(read_only=True) as uow:
        case = uow.cases.get(opened.json()["case_id"])
        types = list(
            uow.conn.execute(select(ledger.c.type).where(ledger.c.subject_id == svc)).scalars()
        )
    assert str(case.channel) == "owner_request" and case.requester_person == ben
    assert "service:rotation:refused" in types
