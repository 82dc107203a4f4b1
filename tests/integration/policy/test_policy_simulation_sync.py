"""A subject's attributes change after its case opened, through a real directory
sync from OpenLDAP (slapd): the simulation reads the sync's ledger entry and says,
on that case, which tier-deciding attribute moved, and that the recorded policy
now picks another tier. On SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import ldap.modlist
import pytest
from servers.slapd import SUFFIX, SlapdServer, person_entry, strong_password
from simulation_world import DEFAULT_TEXT, open_helpdesk

from conftest import BACKENDS, World, make_world, pg_database
from custos.domain.events import EventType
from custos.policy.landing import Effect
from custos.service.directories.sync import sync_subjects
from custos.service.policy.simulation import candidate_text, simulate_period


@dataclass
class Directory:
    """This test's corner of the shared slapd: its people and its groups."""

    server: SlapdServer
    people: str
    groups: str

    def add(self, dn: str, entry: dict[str, list[bytes]]) -> None:
        conn = self.server.admin()
        try:
            conn.add_s(dn, ldap.modlist.addModlist(entry))
        finally:
            conn.unbind_s()


def _corner(server: SlapdServer) -> Directory:
    tag = f"t{secrets.token_hex(4)}"
    corner = Directory(server, f"ou={tag},{server.people_base}", f"ou=g{tag},{SUFFIX}")
    for dn, name in ((corner.people, tag), (corner.groups, f"g{tag}")):
        corner.add(dn, {"objectClass": [b"organizationalUnit"], "ou": [name.encode()]})
    return corner


@pytest.fixture(params=BACKENDS)
def synced(
    request: pytest.FixtureRequest, tmp_path: Path, slapd_server: SlapdServer
) -> Iterator[tuple[World, Directory]]:
    corner = _corner(slapd_server)
    target = slapd_server.target(
        user_base=corner.people,
        identity_source=True,
        mapping={"group_search_base": corner.groups, "privileged_groups": ["admins"]},
    )
    targets = {"directory": {"kind": "builtin"}, "openldap": target}
    if request.param == "sqlite":
        world = make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, targets=targets)
        yield world, corner
        world.svc.engine.dispose()
        return
    with pg_database() as url:
        world = make_world(url, tmp_path, targets=targets)
        try:
            yield world, corner
        finally:
            world.svc.engine.dispose()


def test_a_sync_after_the_case_is_named_on_it(synced: tuple[World, Directory]) -> None:
    world, directory = synced
    dn = f"uid=hugo,{directory.people}"
    directory.add(dn, dict(person_entry("hugo", strong_password())))
    assert sync_subjects(world.svc).created == ["hugo"]
    case_id = open_helpdesk(world, "hugo")  # an employee: the standard tier

    world.clock.advance(timedelta(hours=2))
    directory.add(
        f"cn=admins,{directory.groups}",
        {"objectClass": [b"groupOfNames"], "cn": [b"admins"], "member": [dn.encode()]},
    )
    report = sync_subjects(world.svc)
    assert report.tier_moves == [("hugo", "standard", "privileged")]

    now = world.clock.now()
    candidate = candidate_text(world.svc, DEFAULT_TEXT, "same.yaml")
    simulated = simulate_period(world.svc, candidate, since=now - timedelta(days=1), until=now)
    (case,) = simulated.cases
    assert case.case_id == case_id
    assert case.recorded.tier == "standard"
    assert case.attributes_drifted
    assert "a directory sync changed groups, privileged after the case opened" in case.attributes
    assert "the recorded policy now picks 'privileged', not the recorded 'standard'" in (
        case.attributes
    )
    # Under the very policy it was recorded with, the current attributes give
    # the privileged tier: the replay shows it, and the note says why.
    assert case.candidate is not None and case.candidate.tier == "privileged"
    assert case.effect == Effect.STRICTER
    assert simulated.totals.attributes_drifted == 1

    with world.svc.uow(read_only=True) as uow:
        synced_entries = uow.ledger.about_subjects(
            [EventType.SUBJECT_ATTRIBUTES_CHANGED], ["hugo"], since=now - timedelta(days=1)
        )
    assert [e["data"]["changed"] for e in synced_entries] == [["groups", "privileged"]]
