"""Shared accounts' owners from the real OpenLDAP server (slapd): every value of
the mapped owner attribute (here the multi-valued ``seeAlso``; ``owner`` on
LDAP, ``managedBy`` on AD) becomes one of ``Subject.owners``, DNs resolved to
the synced subjects, a DN naming no synced account reported and left out; a
later sync follows the directory; and the synced owners decide who may ask
(docs/shared-accounts.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import ldap
import pytest
from servers.slapd import SlapdServer
from test_attribute_mapping_slapd import Tree, _tree, world_on

from conftest import World
from custos.domain.errors import NotAnOwner
from custos.domain.model import Role, SubjectKind
from custos.service.directories.sync import sync_subjects
from custos.service.recovery import cases


@pytest.fixture
def owners_tree(slapd_server: SlapdServer) -> Tree:
    return _tree(slapd_server)


@pytest.fixture
def owners_world(tmp_path: Path, owners_tree: Tree) -> Iterator[World]:
    world = world_on(tmp_path, owners_tree)
    yield world
    world.svc.engine.dispose()


def test_every_owner_value_becomes_an_owner_and_a_dn_of_no_account_is_a_conflict(
    owners_world: World, owners_tree: Tree
) -> None:
    """Three owner values: two accounts of the sync and one DN outside it. The
    owners are the two subjects in the directory's order, the first is
    ``owner``; the third is reported as a conflict naming the attribute."""
    ana = owners_tree.add("ana")
    ben = owners_tree.add("ben")
    outsider = owners_tree.server.service_dn
    owners_tree.add("frontdesk", employeeType="shared", seeAlso=[ana, ben, outsider])

    report = sync_subjects(owners_world.svc)

    with owners_world.svc.uow(read_only=True) as uow:
        desk = uow.subjects.get("frontdesk")
    assert desk is not None and desk.kind == SubjectKind.SHARED
    assert desk.owners == ("ana", "ben") and desk.owner == "ana"
    assert desk.attribute_sources["owners"] == "openldap: seeAlso"
    assert report.conflicts == [
        f"frontdesk: owner '{outsider}' (openldap: seeAlso) is no account this sync "
        "linked to a subject: it is left out of the owners"
    ]


def test_a_resync_follows_the_directory_and_only_a_synced_owner_may_ask(
    owners_world: World, owners_tree: Tree
) -> None:
    """Ben is removed from the directory's owner values: after the next sync he is
    no owner, and the help desk acting for him is refused (``not_an_owner``),
    while acting for Ana still opens the case."""
    ana = owners_tree.add("ana")
    ben = owners_tree.add("ben")
    desk_dn = owners_tree.add("frontdesk", employeeType="shared", seeAlso=[ana, ben])
    sync_subjects(owners_world.svc)
    owners_tree.modify(desk_dn, [(ldap.MOD_DELETE, "seeAlso", [ben.encode()])])
    report = sync_subjects(owners_world.svc)
    assert report.changed == ["frontdesk: owners"]

    with owners_world.svc.uow(read_only=True) as uow:
        desk = uow.subjects.get("frontdesk")
    assert desk is not None and desk.owners == ("ana",)
    owners_world.operator("hana", Role.REQUESTER, person="hana")
    agent = owners_world.operators["hana"]
    with pytest.raises(NotAnOwner):
        cases.open_helpdesk_case(
            owners_world.svc, agent, subject_id="frontdesk", reason="lost", on_behalf_of="ben"
        )
    opened = cases.open_helpdesk_case(
        owners_world.svc, agent, subject_id="frontdesk", reason="lost", on_behalf_of="ana"
    )
    assert opened.on_behalf_of == "ana"


def test_subjects_show_lists_every_owner_and_the_attribute_behind_them(
    tmp_path: Path, owners_tree: Tree
) -> None:
    """``custos subjects show`` (the real CLI, in a subprocess) prints the owners
    the directory states and which attribute set them."""
    world = world_on(tmp_path, owners_tree, start=datetime.now(UTC))
    try:
        ana = owners_tree.add("ana")
        ben = owners_tree.add("ben")
        owners_tree.add("frontdesk", employeeType="shared", seeAlso=[ana, ben])
        sync_subjects(world.svc)
        settings = world.svc.settings
        assert settings.sealing_key is not None
        env = {
            **os.environ,
            "CUSTOS_DATABASE_URL": settings.effective_database_url,
            "CUSTOS_SEALING_KEY": settings.sealing_key.get_secret_value(),
            "COLUMNS": "250",
        }
        shown = subprocess.run(
            [
                str(Path(sys.executable).parent / "custos"),
                "--data-dir",
                str(settings.data_dir),
                "subjects",
                "show",
                "frontdesk",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        world.svc.engine.dispose()
    assert shown.returncode == 0, shown.stderr
    row = next(line for line in shown.stdout.splitlines() if "owners" in line)
    assert "ana, ben" in row and "openldap: seeAlso" in row
