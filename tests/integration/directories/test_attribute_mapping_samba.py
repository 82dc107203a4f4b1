"""The attribute mapping against a real Samba AD domain controller: group
membership, manager and account expiry set subject attributes, and a subject
synced from AD lands in the privileged tier because of its group. The manager's
DN resolves to the subject of that account (not to the DN's CN); a manager DN
that is no synced account is a conflict; a kind filter is evaluated by the DC."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import ldap
import pytest
from servers.samba import SambaDC, ad_target, strong_password
from sqlalchemy import select

from conftest import World, make_world
from custos.domain.events import EventType
from custos.policy.engine import select_tier
from custos.service.directories.sync import sync_subjects
from custos.store.tables import ledger

MAPPING = {
    "groups_attribute": "memberOf",
    "privileged_groups": ["Domain Admins"],
    "privileged_attributes": {"adminCount": "1"},
    "manager_attribute": "manager",
    "contract_end_attribute": "accountExpires",
    "email_attribute": "mail",
    "kind_filters": {"(description=shared mailbox*)": "shared"},
}
#: 2027-06-30 00:00 UTC in AD's 100 ns ticks since 1601.
_TICKS_PER_SECOND = 10_000_000
_SINCE_1601 = datetime(2027, 6, 30, tzinfo=UTC) - datetime(1601, 1, 1, tzinfo=UTC)
EXPIRES = str(int(_SINCE_1601.total_seconds()) * _TICKS_PER_SECOND)


@pytest.fixture
def ad_world(tmp_path: Path, samba_dc: SambaDC) -> Iterator[World]:
    target = ad_target(samba_dc, identity_source=True, mapping=MAPPING)
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        targets={"directory": {"kind": "builtin"}, "ad": target},
    )
    yield world
    world.svc.engine.dispose()


def test_a_subject_synced_from_samba_ad_is_privileged_because_of_its_group(
    ad_world: World, samba_dc: SambaDC
) -> None:
    """Issue 11 "Done when": membership of Domain Admins puts the synced subject
    in the privileged tier; the manager and the expiry date come across; the tier
    move is a ledger event naming the group; ``attribute_sources`` explains it."""
    suffix = secrets.token_hex(3)
    admin, boss = f"adm{suffix}", f"boss{suffix}"
    admin_dn = samba_dc.add_user(admin, strong_password())
    boss_dn = samba_dc.add_user(boss, strong_password())
    lost, desk = f"lost{suffix}", f"desk{suffix}"
    lost_dn = samba_dc.add_user(lost, strong_password())
    desk_dn = samba_dc.add_user(desk, strong_password())
    conn = samba_dc.admin()
    try:
        # The CN differs from the account name: only a resolution through the
        # synced accounts gives the right subject.
        conn.rename_s(boss_dn, f"CN=Boss Person {suffix}")
        boss_dn = f"CN=Boss Person {suffix},{samba_dc.user_base}"
        groups_dn = f"CN=Domain Admins,{samba_dc.user_base}"
        conn.modify_s(lost_dn, [(ldap.MOD_REPLACE, "manager", [groups_dn.encode()])])
        conn.modify_s(desk_dn, [(ldap.MOD_REPLACE, "description", [b"shared mailbox, 2F"])])
        conn.modify_s(
            f"CN=Domain Admins,{samba_dc.user_base}",
            [(ldap.MOD_ADD, "member", [admin_dn.encode()])],
        )
        conn.modify_s(
            admin_dn,
            [
                (ldap.MOD_REPLACE, "manager", [boss_dn.encode()]),
                (ldap.MOD_REPLACE, "accountExpires", [EXPIRES.encode()]),
                (ldap.MOD_REPLACE, "mail", [f"{admin}@custos.test".encode()]),
            ],
        )
    finally:
        conn.unbind_s()

    report = sync_subjects(ad_world.svc)
    assert admin in report.created and boss in report.created
    with ad_world.svc.uow() as uow:
        subject = uow.subjects.get(admin)
        plain = uow.subjects.get(boss)
        events = list(
            uow.conn.execute(
                select(ledger.c.type, ledger.c.canonical).where(ledger.c.subject_id == admin)
            )
        )
    assert subject is not None and plain is not None
    assert subject.privileged and not plain.privileged
    assert "Domain Admins" in subject.groups
    assert subject.attribute_sources["privileged"] == "ad: member of Domain Admins"
    assert subject.manager == boss
    assert subject.contract_end == datetime(2027, 6, 30, tzinfo=UTC)
    assert select_tier(ad_world.svc.policy, subject).name == "privileged"
    assert (
        f"{lost}: manager '{groups_dn}' (ad: manager) is no account this sync linked to a subject: "
        "the subject keeps its current value"
    ) in report.conflicts
    with ad_world.svc.uow(read_only=True) as uow:
        lost_subject, desk_subject = uow.subjects.get(lost), uow.subjects.get(desk)
    assert lost_subject is not None and lost_subject.manager is None
    assert desk_subject is not None and str(desk_subject.kind) == "shared"
    assert desk_subject.attribute_sources["kind"] == "ad: matches (description=shared mailbox*)"
    assert select_tier(ad_world.svc.policy, plain).name == "standard"
    moves = [c for t, c in events if t == str(EventType.SUBJECT_TIER_CHANGED)]
    assert len(moves) == 1
    assert '"to":"privileged"' in moves[0] and "member of Domain Admins" in moves[0]
    assert (admin, "standard", "privileged") in report.tier_moves

    again = sync_subjects(ad_world.svc)
    assert admin not in " ".join(again.changed)  # nothing new: no second event
