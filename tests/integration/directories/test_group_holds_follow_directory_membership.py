"""A hold on a group follows membership as the directory states it (docs/holds.md):
against the real OpenLDAP server, a subject who joins a held group has their
open case blocked at the next ``subjects sync``, and gets it back when they
leave the group (no other hold standing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import ldap
import pytest
from servers.slapd import SlapdServer
from sqlalchemy import select
from test_attribute_mapping_slapd import Tree, _tree, world_on

from conftest import World
from custos.domain.errors import RecoveryBlocked
from custos.domain.model import Role
from custos.service.directories.sync import sync_subjects
from custos.service.holds import commands
from custos.service.recovery import cases
from custos.store.tables import ledger


@pytest.fixture
def tree(slapd_server: SlapdServer) -> Tree:
    return _tree(slapd_server)


@pytest.fixture
def ldap_world(tmp_path: Path, tree: Tree) -> Iterator[World]:
    world = world_on(tmp_path, tree)
    yield world
    world.svc.engine.dispose()


def _state(world: World, case_id: str) -> str:
    with world.svc.uow(read_only=True) as uow:
        return str(uow.cases.get(case_id).state)


def test_joining_a_held_group_blocks_the_open_case_and_leaving_releases_it(
    ldap_world: World, tree: Tree
) -> None:
    world = ldap_world
    joe = tree.add("joe", mail="joe@corp.test")
    other = tree.add("other")
    tree.group("staff", joe, other)
    finance = tree.group("finance", other)
    sync_subjects(world.svc)
    world.operator("hana", Role.REQUESTER)
    world.operator("ada", Role.APPROVER, groups=("security-approvers",))
    case = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="joe", reason="x"
    )
    assert case.state == "proofing"
    held = commands.set_hold(
        world.svc,
        world.operators["ada"],
        kind="incident_freeze",
        group="finance",
        reason="phishing wave in finance",
        ticket="IR-9",
    )
    assert held.cases_blocked == ()  # joe is not in finance (yet)

    tree.modify(finance, [(ldap.MOD_ADD, "member", [joe.encode()])])
    sync_subjects(world.svc)
    assert _state(world, case.id) == "blocked"
    with pytest.raises(RecoveryBlocked):
        cases.open_helpdesk_case(world.svc, world.operators["hana"], subject_id="joe", reason="y")

    tree.modify(finance, [(ldap.MOD_DELETE, "member", [joe.encode()])])
    sync_subjects(world.svc)
    assert _state(world, case.id) == "proofing"
    with world.svc.engine.connect() as conn:
        moves = [
            json.loads(c)
            for c in conn.execute(
                select(ledger.c.canonical)
                .where(ledger.c.case_id == case.id, ledger.c.type == "case:case:state_changed")
                .order_by(ledger.c.seq)
            ).scalars()
        ]
    assert [m["data"] for m in moves[-2:]] == [
        {"from": "proofing", "to": "blocked"},
        {"from": "blocked", "to": "proofing"},
    ]
    assert held.hold.id in moves[-2]["reason"]
