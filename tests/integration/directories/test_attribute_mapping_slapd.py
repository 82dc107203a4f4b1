"""The attribute mapping against the real OpenLDAP server (slapd, no memberOf
overlay): groups found by a group search, privileged by a named group or by an
LDAP filter the directory evaluates, kind by objectClass, OU or filter, manager,
owner and sponsor DNs resolved to synced subjects, contract end, contacts,
employee id; the sync summary on a designed directory; containment of a subject
who becomes privileged; ``custos subjects show``.

Each test works under its own OU (``ou=t<hex>,ou=people``) and its own group OU,
so the session-wide slapd holds other tests' entries without disturbing counts."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ldap
import ldap.modlist
import pytest
from servers.slapd import SUFFIX, SlapdServer, launch, strong_password
from sqlalchemy import select

from conftest import World, make_world
from custos.domain.events import EventType
from custos.domain.model import ContactKind, SubjectKind
from custos.policy.engine import select_tier
from custos.service.directories.sync import sync_subjects
from custos.service.recovery import self_service
from custos.store.tables import ledger, reset_tokens

PRIVILEGED_FILTER = "(|(employeeType=root)(departmentNumber=ops-*))"
SHARED_FILTER = "(employeeType=shared)"


@dataclass
class Tree:
    """One test's corner of the directory."""

    server: SlapdServer
    base: str
    groups: str

    def add(self, uid: str, *, under: str = "", classes: tuple[str, ...] = (), **attrs: Any) -> str:
        parent = f"{under},{self.base}" if under else self.base
        dn = f"uid={uid},{parent}"
        entry: dict[str, list[bytes]] = {
            "objectClass": [b"inetOrgPerson", *(c.encode() for c in classes)],
            "uid": [uid.encode()],
            "cn": [uid.encode()],
            "sn": [uid.encode()],
            "userPassword": [strong_password().encode()],
        }
        for name, value in attrs.items():
            values = value if isinstance(value, list) else [value]
            entry[name] = [str(v).encode() for v in values]
        self._add(dn, entry)
        return dn

    def ou(self, name: str) -> str:
        dn = f"ou={name},{self.base}"
        self._add(dn, {"objectClass": [b"organizationalUnit"], "ou": [name.encode()]})
        return dn

    def group(self, cn: str, *members: str) -> str:
        dn = f"cn={cn},{self.groups}"
        self._add(
            dn,
            {
                "objectClass": [b"groupOfNames"],
                "cn": [cn.encode()],
                "member": [m.encode() for m in members],
            },
        )
        return dn

    def modify(self, dn: str, changes: list[tuple[int, str, list[bytes] | None]]) -> None:
        conn = self.server.admin()
        try:
            conn.modify_s(dn, changes)
        finally:
            conn.unbind_s()

    def delete(self, dn: str) -> None:
        conn = self.server.admin()
        try:
            conn.delete_s(dn)
        finally:
            conn.unbind_s()

    def _add(self, dn: str, entry: dict[str, list[bytes]]) -> None:
        conn = self.server.admin()
        try:
            conn.add_s(dn, ldap.modlist.addModlist(entry))
        finally:
            conn.unbind_s()


def _tree(server: SlapdServer) -> Tree:
    tag = f"t{secrets.token_hex(4)}"
    made = Tree(server, f"ou={tag},{server.people_base}", f"ou=g{tag},{SUFFIX}")
    made._add(made.base, {"objectClass": [b"organizationalUnit"], "ou": [tag.encode()]})
    made._add(made.groups, {"objectClass": [b"organizationalUnit"], "ou": [f"g{tag}".encode()]})
    return made


@pytest.fixture
def tree(slapd_server: SlapdServer) -> Tree:
    return _tree(slapd_server)


@pytest.fixture(scope="module")
def slapd_with_member_of(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdServer]:
    """A second slapd, this one with the memberOf overlay."""
    server = launch(tmp_path_factory.mktemp("slapd-memberof"), member_of=True)
    try:
        yield server
    finally:
        server.stop()


def mapping(tree: Tree) -> dict[str, Any]:
    return {
        "group_search_base": tree.groups,
        "privileged_groups": ["admins"],
        "privileged_filters": [PRIVILEGED_FILTER],
        "kind_object_classes": {"posixAccount": "service"},
        "kind_dn_contains": {"ou=service accounts": "service"},
        "kind_filters": {SHARED_FILTER: "shared"},
        "owner_attribute": "seeAlso",
        "manager_attribute": "manager",
        "sponsor_attribute": "secretary",
        "contract_end_attribute": "pwdEndTime",
        "email_attribute": "mail",
        "phone_attribute": "mobile",
        "employee_id_attribute": "employeeNumber",
    }


def world_on(tmp_path: Path, tree: Tree, **settings: Any) -> World:
    target = tree.server.target(user_base=tree.base, identity_source=True, mapping=mapping(tree))
    return make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        targets={"directory": {"kind": "builtin"}, "openldap": target},
        **settings,
    )


@pytest.fixture
def ldap_world(tmp_path: Path, tree: Tree) -> Iterator[World]:
    world = world_on(tmp_path, tree)
    yield world
    world.svc.engine.dispose()


def _events(world: World, subject_id: str | None = None) -> list[tuple[str, str, str]]:
    query = select(ledger.c.type, ledger.c.actor, ledger.c.canonical).order_by(ledger.c.seq)
    if subject_id is not None:
        query = query.where(ledger.c.subject_id == subject_id)
    with world.svc.uow(read_only=True) as uow:
        return [(t, a, c) for t, a, c in uow.conn.execute(query)]


def test_slapd_mapping_sets_every_subject_attribute_from_groups_dns_and_filters(
    ldap_world: World, tree: Tree
) -> None:
    """Issue 11 "Attribute mapping" on OpenLDAP: groupOfNames membership found by a
    group search, privileged by the named group ``admins`` and by a filter the
    directory evaluates (a substring match Custos never sees), kind by objectClass,
    OU and filter, manager/owner/sponsor DNs resolved to the synced subjects,
    contract end from pwdEndTime, employee id, and mail/mobile as unconfirmed
    contacts (R-14)."""
    boss = tree.add("boss", employeeNumber="E-0001")
    alice = tree.add(
        "alice",
        manager=boss,
        mail="alice@corp.test",
        mobile="+15550100",
        employeeNumber="E-1001",
        pwdEndTime="20271231000000Z",
    )
    tree.add("olga", departmentNumber="ops-east", manager=boss)
    tree.add("plain", departmentNumber="sales", manager=boss)
    tree.ou("service accounts")
    tree.add("backup", under="ou=service accounts", seeAlso=boss)
    tree.add(
        "robot",
        classes=("posixAccount",),
        uidNumber="5001",
        gidNumber="5001",
        homeDirectory="/srv/robot",
    )
    tree.add("frontdesk", employeeType="shared", secretary=alice)
    tree.group("admins", alice)
    tree.group("staff", alice, boss)

    report = sync_subjects(ldap_world.svc)

    assert sorted(report.created) == [
        "alice", "backup", "boss", "frontdesk", "olga", "plain", "robot",
    ]  # fmt: skip
    assert report.conflicts == [] and report.orphans == []
    with ldap_world.svc.uow(read_only=True) as uow:
        s = {sid: uow.subjects.get(sid) for sid in report.created}
        alice_contacts = uow.contacts.current("alice")
    a = s["alice"]
    assert a is not None
    assert a.groups == frozenset({"admins", "staff"})
    assert a.privileged and a.attribute_sources["privileged"] == "openldap: member of admins"
    assert a.attribute_sources["groups"] == f"openldap: groups under {tree.groups}"
    assert a.manager == "boss"  # the DN resolved to the subject of that account
    assert a.contract_end == datetime(2027, 12, 31, tzinfo=UTC)
    assert a.employee_id == "E-1001"
    assert a.contacts == ()  # none confirmed, so none counts for recovery yet
    assert {(c.kind, c.address, c.confirmed) for c in alice_contacts} == {
        (ContactKind.EMAIL, "alice@corp.test", False),
        (ContactKind.SMS, "+15550100", False),
    }
    assert select_tier(ldap_world.svc.policy, a).name == "privileged"
    olga, plain = s["olga"], s["plain"]
    assert olga is not None and plain is not None
    assert olga.privileged
    assert olga.attribute_sources["privileged"] == f"openldap: matches {PRIVILEGED_FILTER}"
    assert not plain.privileged and plain.manager == "boss"
    backup, robot, desk = s["backup"], s["robot"], s["frontdesk"]
    assert backup is not None and robot is not None and desk is not None
    assert backup.kind == SubjectKind.SERVICE and backup.owner == "boss"
    assert backup.attribute_sources["kind"] == "openldap: DN contains ou=service accounts"
    assert robot.kind == SubjectKind.SERVICE
    assert robot.attribute_sources["kind"] == "openldap: objectClass posixAccount"
    assert desk.kind == SubjectKind.SHARED and desk.sponsor == "alice"
    assert desk.attribute_sources["kind"] == f"openldap: matches {SHARED_FILTER}"
    moves = {m[0]: m for m in report.tier_moves}
    assert moves["alice"][2] == "privileged" and moves["olga"][2] == "privileged"


def test_a_manager_dn_that_is_no_synced_account_is_a_conflict(
    ldap_world: World, tree: Tree
) -> None:
    """A DN that resolves to no account the sync linked (here the service account
    under ou=services) is reported as a conflict naming the subject, the
    attribute and the DN; the subject keeps its value instead of a guess."""
    outsider = tree.server.service_dn
    tree.add("nina", manager=outsider)
    report = sync_subjects(ldap_world.svc)
    assert report.created == ["nina"]
    assert report.conflicts == [
        f"nina: manager '{outsider}' (openldap: manager) is no account "
        "this sync linked to a subject: the subject keeps its current value"
    ]
    with ldap_world.svc.uow(read_only=True) as uow:
        nina = uow.subjects.get("nina")
    assert nina is not None and nina.manager is None
    assert "manager" not in nina.attribute_sources


def test_sync_summary_counts_created_changed_orphaned_and_conflicting(
    ldap_world: World, tree: Tree
) -> None:
    """On a designed directory the summary is exact: three created; then one
    changed (a new employee number), one orphaned (an entry deleted), one
    conflict (two entries with the same uid in two OUs) and the rest unchanged.
    The summary event carries the same numbers and the CLI's actor."""
    tree.add("ann", employeeNumber="1")
    tree.add("bob", employeeNumber="2")
    gone = tree.add("cid", employeeNumber="3")
    first = sync_subjects(ldap_world.svc)
    assert (sorted(first.created), first.changed, first.orphans, first.conflicts) == (
        ["ann", "bob", "cid"],
        ["ann: employee_id", "bob: employee_id", "cid: employee_id"],
        [],
        [],
    )
    tree.modify(f"uid=ann,{tree.base}", [(ldap.MOD_REPLACE, "employeeNumber", [b"11"])])
    tree.delete(gone)
    tree.ou("a")
    tree.ou("b")
    tree.add("dup", under="ou=a")
    tree.add("dup", under="ou=b")
    second = sync_subjects(ldap_world.svc)
    assert second.created == [] and second.changed == ["ann: employee_id"]
    assert second.orphans == ["openldap/cid: linked to 'cid' but missing from the target"]
    assert second.conflicts == [
        "openldap: accounts 'dup' and 'dup' share the correlation value 'dup'"
    ]
    assert second.unchanged == 2
    summaries = [c for t, a, c in _events(ldap_world) if t == str(EventType.SUBJECTS_SYNCED)]
    assert len(summaries) == 2
    assert '"changed":1' in summaries[1] and '"conflicts":1' in summaries[1]
    assert '"orphans":1' in summaries[1] and '"created":0' in summaries[1]
    actors = {a for t, a, _ in _events(ldap_world) if t == str(EventType.SUBJECTS_SYNCED)}
    assert actors == {"cli:local"}


def test_directory_contacts_stay_unconfirmed_across_syncs(ldap_world: World, tree: Tree) -> None:
    """R-14: mail and mobile from the directory arrive unconfirmed and a later
    sync (a new phone number) adds the new one unconfirmed and confirms nothing."""
    dn = tree.add("emma", mail="emma@corp.test", mobile="+15550111")
    sync_subjects(ldap_world.svc)
    tree.modify(dn, [(ldap.MOD_REPLACE, "mobile", [b"+15550122"])])
    sync_subjects(ldap_world.svc)
    with ldap_world.svc.uow(read_only=True) as uow:
        emma = uow.subjects.get("emma")
        rows = uow.contacts.current("emma")
    assert emma is not None and emma.contacts == ()
    assert sorted((c.kind, c.address, c.confirmed) for c in rows) == [
        (ContactKind.EMAIL, "emma@corp.test", False),
        (ContactKind.SMS, "+15550111", False),
        (ContactKind.SMS, "+15550122", False),
    ]


def test_a_subject_who_becomes_privileged_loses_tokens_and_open_cases(
    ldap_world: World, tree: Tree
) -> None:
    """Issue 11: when a re-sync makes a subject privileged (added to ``admins``),
    its live reset token is voided and its case still open for decision is
    cancelled, with ledger events: the tier move, the voided tokens, the
    cancellation. A subject whose tier does not change keeps its case."""
    world = ldap_world
    for uid in ("carl", "dina"):
        world.subject(uid)  # confirmed email, standard tier
        tree.add(uid)
    sync_subjects(world.svc)
    flows = {}
    for uid in ("carl", "dina"):
        flow = self_service.start(world.svc, identifier=uid, source_address="10.0.0.9")
        self_service.request_email_code(world.svc, handle=flow)
        self_service.submit_proof(
            world.svc, handle=flow, method="email_code", response=world.last_code(uid)
        )
        flows[uid] = flow
    with world.svc.uow(read_only=True) as uow:
        live = {
            r.subject_id: r.case_id
            for r in uow.conn.execute(
                select(reset_tokens).where(reset_tokens.c.voided_at.is_(None))
            )
        }
    assert set(live) == {"carl", "dina"}

    tree.group("admins", f"uid=carl,{tree.base}")
    report = sync_subjects(world.svc)

    assert ("carl", "standard", "privileged") in report.tier_moves
    assert all(m[0] != "dina" for m in report.tier_moves)
    with world.svc.uow(read_only=True) as uow:
        tokens = {
            r.subject_id: (r.voided_at, r.void_reason)
            for r in uow.conn.execute(select(reset_tokens))
        }
        carl_case = uow.cases.get(live["carl"])
        dina_case = uow.cases.get(live["dina"])
    assert tokens["carl"][0] is not None and "became privileged" in (tokens["carl"][1] or "")
    assert tokens["dina"][0] is None
    assert str(carl_case.state) == "cancelled" and str(dina_case.state) != "cancelled"
    carl = [(t, a, c) for t, a, c in _events(world, "carl")]
    types = [t for t, _, _ in carl]
    for expected in (EventType.SUBJECT_TIER_CHANGED, EventType.TOKENS_VOIDED):
        assert str(expected) in types
    voided = next(c for t, _, c in carl if t == str(EventType.TOKENS_VOIDED))
    assert '"voided":1' in voided
    cancelled = [c for t, _, c in carl if "cancelled" in t or '"to":"cancelled"' in c]
    assert cancelled, types


def test_subjects_show_names_the_attribute_behind_the_tier(tmp_path: Path, tree: Tree) -> None:
    """``custos subjects show USER`` (the real CLI, in a subprocess) prints the
    tier and, for each attribute, which directory attribute set it."""
    world = world_on(tmp_path, tree, start=datetime.now(UTC))
    try:
        tree.add("zed", departmentNumber="ops-west", employeeNumber="E-77")
        sync_subjects(world.svc)
        settings = world.svc.settings
        assert settings.sealing_key is not None
        env = {
            **os.environ,
            "CUSTOS_DATABASE_URL": settings.effective_database_url,
            "CUSTOS_SEALING_KEY": settings.sealing_key.get_secret_value(),
            "COLUMNS": "250",
        }
        custos = str(Path(sys.executable).parent / "custos")
        shown = subprocess.run(
            [custos, "--data-dir", str(settings.data_dir), "subjects", "show", "zed"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        missing = subprocess.run(
            [custos, "--data-dir", str(settings.data_dir), "subjects", "show", "nobody"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        world.svc.engine.dispose()
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert "subject zed: tier privileged" in out
    row = next(line for line in out.splitlines() if "privileged" in line and "True" in line)
    assert f"openldap: matches {PRIVILEGED_FILTER}" in row
    row = next(line for line in out.splitlines() if "employee_id" in line)
    assert "E-77" in row and "openldap: employeeNumber" in row
    assert missing.returncode == 1 and "not_found" in missing.stderr


def test_a_filter_the_directory_rejects_is_reported_for_its_target(
    tmp_path: Path, tree: Tree
) -> None:
    """A mapping filter that passes the load check (one parenthesised filter) but
    that the directory cannot evaluate stops the reading of that target only:
    reported as unreachable with the directory's answer, nothing created."""
    tree.add("una")
    bad = {**mapping(tree), "privileged_filters": ["(!cn=una)"]}
    target = tree.server.target(user_base=tree.base, identity_source=True, mapping=bad)
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        targets={"directory": {"kind": "builtin"}, "openldap": target},
    )
    try:
        report = sync_subjects(world.svc)
    finally:
        world.svc.engine.dispose()
    assert report.created == []
    assert len(report.unreachable) == 1 and report.unreachable[0].startswith("openldap: ")


@pytest.mark.parametrize("text", ["memberOf=cn=admins", "(cn=a)(cn=b)", "(cn=a", ""])
def test_a_malformed_mapping_filter_is_refused_at_configuration_load(
    slapd_server: SlapdServer, text: str
) -> None:
    with pytest.raises(ValueError, match="not one parenthesised LDAP filter"):
        slapd_server.target(mapping={"privileged_filters": [text]})
    with pytest.raises(ValueError, match="not one parenthesised LDAP filter"):
        slapd_server.target(mapping={"kind_filters": {text: "service"}})


def test_with_the_member_of_overlay_groups_and_filters_read_member_of(
    tmp_path: Path, slapd_with_member_of: SlapdServer
) -> None:
    """OpenLDAP with the memberOf overlay: ``groups_attribute = "memberOf"`` and the
    issue's own example, ``privileged_filters = ["(memberOf=cn=admins,...)"]``,
    evaluated by slapd."""
    tree = _tree(slapd_with_member_of)
    ivan = tree.add("ivan")
    tree.add("jill")
    admins = tree.group("admins", ivan)
    tree.group("staff", ivan, f"uid=jill,{tree.base}")
    rules = {"groups_attribute": "memberOf", "privileged_filters": [f"(memberOf={admins})"]}
    target = tree.server.target(user_base=tree.base, identity_source=True, mapping=rules)
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        targets={"directory": {"kind": "builtin"}, "openldap": target},
    )
    try:
        sync_subjects(world.svc)
        with world.svc.uow(read_only=True) as uow:
            i, j = uow.subjects.get("ivan"), uow.subjects.get("jill")
    finally:
        world.svc.engine.dispose()
    assert i is not None and j is not None
    assert i.groups == frozenset({"admins", "staff"}) and j.groups == frozenset({"staff"})
    assert (
        i.privileged
        and i.attribute_sources["privileged"] == f"openldap: matches (memberOf={admins})"
    )
    assert not j.privileged
    assert i.attribute_sources["groups"] == "openldap: memberOf"


def _toml_target(tree: Tree, name: str, *, identity_source: bool) -> str:
    server = tree.server
    lines = [
        f"[targets.{name}]",
        'kind = "ldap"',
        f'url = "{server.ldap_url}"',
        "start_tls = true",
        f'ca_file = "{server.ca_file}"',
        f'bind_dn = "{server.service_dn}"',
        f'user_base = "{tree.base}"',
        'correlation_attribute = "employeeNumber"',
        f"identity_source = {'true' if identity_source else 'false'}",
        f'bind_password = {{ value = "{server.service_password}" }}',
    ]
    if identity_source:
        lines += [
            f"[targets.{name}.mapping]",
            'employee_id_attribute = "employeeNumber"',
            'email_attribute = "mail"',
        ]
    return "\n".join(lines) + "\n"


def test_cli_subjects_sync_links_accounts_with_other_names_by_employee_id(
    tmp_path: Path, slapd_server: SlapdServer
) -> None:
    """Issue 11 "Attribute mapping": ``custos subjects sync`` (the real CLI, in a
    subprocess, configured by a TOML file) links an HR account ``alice.smith``
    and an application account ``asmith`` to one subject because both carry the
    employee id E-4242, prints its summary, reports the account whose employee id
    nobody in HR has as an orphan (exit 1), and a second run links nothing new."""
    hr = _tree(slapd_server)
    apps = _tree(slapd_server)
    hr.add("alice.smith", employeeNumber="E-4242", mail="alice@corp.test")
    hr.add("bob.jones", employeeNumber="E-5151")
    apps.add("asmith", employeeNumber="E-4242")
    apps.add("bjones", employeeNumber="E-5151")
    apps.add("ghost", employeeNumber="E-0000")
    config = tmp_path / "custos.toml"
    config.write_text(
        '[targets.directory]\nkind = "builtin"\n'
        + _toml_target(hr, "hr", identity_source=True)
        + _toml_target(apps, "apps", identity_source=False),
        encoding="utf-8",
    )
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        start=datetime.now(UTC),
        targets={
            "directory": {"kind": "builtin"},
            "hr": hr.server.target(
                user_base=hr.base,
                identity_source=True,
                correlation_attribute="employeeNumber",
                mapping={"employee_id_attribute": "employeeNumber", "email_attribute": "mail"},
            ),
            "apps": apps.server.target(user_base=apps.base, correlation_attribute="employeeNumber"),
        },
    )
    settings = world.svc.settings
    assert settings.sealing_key is not None
    env = {
        **os.environ,
        "CUSTOS_DATABASE_URL": settings.effective_database_url,
        "CUSTOS_SEALING_KEY": settings.sealing_key.get_secret_value(),
        "COLUMNS": "250",
    }
    custos = str(Path(sys.executable).parent / "custos")
    command = [custos, "--config", str(config), "--data-dir", str(settings.data_dir)]
    try:
        first = subprocess.run(
            [*command, "subjects", "sync"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        second = subprocess.run(
            [*command, "subjects", "sync"],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        with world.svc.uow(read_only=True) as uow:
            alice = uow.subjects.get("e-4242")
            bob = uow.subjects.get("e-5151")
            ghost = uow.subjects.get("e-0000")
    finally:
        world.svc.engine.dispose()
    assert first.returncode == 1, first.stderr  # the orphan needs a person
    out = first.stdout
    assert "subjects created : 2" in out, out
    assert "linked apps/asmith -> e-4242" in out
    assert "linked apps/bjones -> e-5151" in out
    assert "orphans (1):" in out and "ghost" in out
    assert alice is not None and bob is not None and ghost is None
    assert {(a.target, a.account_id) for a in alice.accounts} == {
        ("hr", "alice.smith"),
        ("apps", "asmith"),
    }
    assert alice.employee_id == "E-4242"
    assert "subjects created : 0" in second.stdout, second.stdout
    assert "accounts linked : 0" in second.stdout
