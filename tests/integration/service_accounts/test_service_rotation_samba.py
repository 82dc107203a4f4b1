"""Service accounts against a real Samba AD domain controller: AD holds one
password per account, so a rotation replaces the old one at once and the case
says so (R-40); AD records logons (logonCount, lastLogon), so a logon with the
service credential is flagged and recorded (R-42)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from servers.samba import SambaDC, ad_target, new_user
from service_world import link_token, owner, rotate, service_account
from sqlalchemy import select

from conftest import World, make_world
from custos.domain.events import EventType
from custos.domain.model import LinkedAccount
from custos.domain.states import CaseState
from custos.service.service_accounts import interactive, issuing
from custos.store.tables import ledger


@pytest.fixture
def ad_world(tmp_path: Path, samba_dc: SambaDC) -> Iterator[World]:
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        targets={"directory": {"kind": "builtin"}, "ad": ad_target(samba_dc)},
    )
    yield world
    world.svc.engine.dispose()


def _types(world: World, subject_id: str) -> list[str]:
    with world.svc.engine.connect() as conn:
        return list(
            conn.execute(
                select(ledger.c.type)
                .where(ledger.c.subject_id == subject_id)
                .order_by(ledger.c.seq)
            ).scalars()
        )


def test_rotation_on_samba_ad_replaces_the_old_password_at_once_and_says_so(
    ad_world: World, samba_dc: SambaDC
) -> None:
    """R-40: AD cannot keep two passwords: after the rotation the old one no
    longer binds, the new one does, and the case records no grace period."""
    sam, old = new_user(samba_dc)
    owner(ad_world, "ana")
    service_account(ad_world, sam, ("ana",), accounts=(LinkedAccount("ad", sam),))
    case_id = rotate(ad_world, "ana", sam)
    ad_world.drain()
    with ad_world.svc.uow(read_only=True) as uow:
        assert uow.cases.get(case_id).state == CaseState.COMPLETED
        assert uow.rotations.graces_of(case_id) == []
    value = issuing.retrieve(ad_world.svc, token=link_token(ad_world, "ana", case_id)).secret
    assert samba_dc.can_login(sam, value)
    assert not samba_dc.can_login(sam, old)
    types = _types(ad_world, sam)
    assert EventType.CREDENTIAL_REPLACED_AT_ONCE in types
    assert EventType.CREDENTIAL_GRACE_STARTED not in types


def test_a_logon_with_a_service_credential_is_flagged_from_ad_logon_data(
    ad_world: World, samba_dc: SambaDC
) -> None:
    """R-42: before any logon AD reports none; after a bind with the service
    account's password the account is flagged and the flag is a ledger event."""
    sam, password = new_user(samba_dc)
    owner(ad_world, "ana")
    service_account(ad_world, sam, ("ana",), accounts=(LinkedAccount("ad", sam),))
    before = interactive.check(ad_world.svc, service_id=sam, actor="admin:test")
    assert [r.status for r in before] == [interactive.NO_LOGON]
    assert samba_dc.can_login(sam, password)
    after = interactive.check(ad_world.svc, service_id=sam, actor="admin:test")
    assert [r.status for r in after] == [interactive.FLAGGED]
    assert "logonCount" in after[0].detail
    assert EventType.SERVICE_INTERACTIVE_USE in _types(ad_world, sam)
