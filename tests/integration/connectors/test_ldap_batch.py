"""Batched reads and prepared writes of the OpenLDAP connector against a real
slapd (the shared behaviour is in tests/contract): batches of several searches,
names compared as the server compares them, filter characters, and what a
prepared DN may and may not be trusted with."""

from __future__ import annotations

import secrets
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import ldap
import ldap.modlist
import pytest
from servers.slapd import SlapdServer, person_entry, strong_password

from custos.connectors.errors import ConnectionFailed, ConnectorError, UnknownAccount
from custos.connectors.ldap import BATCH_SIZE, LdapConnector, PreparedDns


@pytest.fixture
def connector(slapd_server: SlapdServer) -> LdapConnector:
    return LdapConnector("openldap", slapd_server.target())


def add_users(server: SlapdServer, count: int, prefix: str = "batch") -> dict[str, str]:
    """``count`` new users over one admin connection: {uid: password}."""
    users = {f"{prefix}-{secrets.token_hex(4)}-{n}": strong_password() for n in range(count)}
    conn = server.admin()
    try:
        for uid, password in users.items():
            conn.add_s(f"uid={uid},{server.people_base}", person_entry(uid, password))
    finally:
        conn.unbind_s()
    return users


def add_claimant(server: SlapdServer, **attrs: str) -> str:
    """A second inetOrgPerson under ou=people with ``attrs`` (e.g. uid=<taken>)."""
    cn = f"claimant-{secrets.token_hex(4)}"
    values = {"cn": cn, "sn": cn, **attrs}
    entry = {name: [value.encode()] for name, value in values.items()}
    dn = f"cn={cn},{server.people_base}"
    conn = server.admin()
    try:
        conn.add_s(dn, ldap.modlist.addModlist({"objectClass": [b"inetOrgPerson"], **entry}))
    finally:
        conn.unbind_s()
    return dn


def admin_do(server: SlapdServer, action: str, *args: object) -> None:
    conn = server.admin()
    try:
        getattr(conn, action)(*args)
    finally:
        conn.unbind_s()


def test_150_prepared_writes_from_16_threads_all_land_and_read_back(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    """A propagation batch as the worker runs it: prepare_writes for 150 accounts
    (two searches), 16 threads writing, then the batched read-back (DESIGN,
    verifying: read_back) answers for all 150 with the new change times."""
    users = add_users(slapd_server, 150)
    before = datetime.now(UTC) - timedelta(seconds=5)
    new = {uid: strong_password() for uid in users}
    connector.prepare_writes(list(users))
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda uid: connector.set_password(uid, new[uid], must_change=False), new))

    read_back = connector.passwords_changed_at(list(users))

    assert read_back.keys() == users.keys() and len(users) > BATCH_SIZE
    assert all((at := read_back[uid]) and at >= before for uid in users)
    for uid, password in new.items():
        assert slapd_server.can_bind(f"uid={uid},{slapd_server.people_base}", password)
        assert not slapd_server.can_bind(f"uid={uid},{slapd_server.people_base}", users[uid])


def test_passwords_changed_at_compares_names_as_the_server_does(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    """uid is caseIgnoreMatch with insignificant spaces: ``ALICE`` and `` alice ``
    name alice, and each answer comes back under the spelling asked (a spelling
    the connector cannot map by itself is asked again on its own)."""
    uid, other = add_users(slapd_server, 2)
    connector.set_password(uid, strong_password(), must_change=False)
    single = connector.password_changed_at(uid)
    assert single is not None

    assert connector.passwords_changed_at([uid.upper(), other]) == {
        uid.upper(): single,
        other: None,  # slapd stamps no pwdChangedTime on an added entry
    }
    assert connector.passwords_changed_at([f"  {uid}  ", other]) == {
        f"  {uid}  ": single,
        other: None,
    }
    assert connector.passwords_changed_at([uid, uid.upper()]) == {uid: single, uid.upper(): single}


def test_ids_with_filter_characters_name_only_their_own_account(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    """``a*b(c)`` names exactly that account: unescaped, it would be a wildcard
    matching its neighbour ``a-b(c)`` too (or a broken filter)."""
    tag = secrets.token_hex(3)
    starred, neighbour = f"a*b(c)-{tag}", f"a-b(c)-{tag}"
    slapd_server.add_user(starred, strong_password())
    slapd_server.add_user(neighbour, strong_password())
    for uid in (starred, neighbour):
        connector.set_password(uid, strong_password(), must_change=False)

    found = connector.passwords_changed_at([starred, f"a*-{tag}", f"*{tag}"])

    assert found.keys() == {starred}
    assert found[starred] == connector.password_changed_at(starred)
    password = strong_password()
    connector.prepare_writes([starred])
    connector.set_password(starred, password, must_change=True)
    assert slapd_server.can_bind(f"uid={starred},{slapd_server.people_base}", password)
    reset = slapd_server.read(f"uid={starred},{slapd_server.people_base}", "pwdReset")
    assert reset["pwdReset"] == [b"TRUE"]  # the pwdReset modify still follows the write


def test_a_prepared_dn_is_used_once_instead_of_a_search(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    """After prepare_writes, set_password writes to the DN found then: a second
    entry claiming the same uid afterwards (a search would now refuse to guess)
    does not disturb it. The DN is spent by that write: the next one searches
    and refuses."""
    (uid,) = add_users(slapd_server, 1)
    connector.prepare_writes([uid])
    claimant = add_claimant(slapd_server, uid=uid)
    try:
        password = strong_password()
        connector.set_password(uid, password, must_change=False)
        assert slapd_server.can_bind(f"uid={uid},{slapd_server.people_base}", password)
        with pytest.raises(ConnectorError, match="refusing to guess"):
            connector.set_password(uid, strong_password(), must_change=False)
    finally:
        admin_do(slapd_server, "delete_s", claimant)


def test_a_dn_whose_rdn_does_not_name_the_account_is_never_trusted(
    slapd_server: SlapdServer,
) -> None:
    """Accounts named by cn but stored as ``uid=...``: another entry could take
    the DN over, so prepare_writes keeps nothing and the write searches (here
    finding the name claimed twice, and refusing)."""
    by_cn = LdapConnector("openldap-cn", slapd_server.target(account_attribute="cn"))
    (uid,) = add_users(slapd_server, 1)  # cn == uid
    by_cn.prepare_writes([uid])
    claimant = add_claimant(slapd_server, cn=uid)
    try:
        with pytest.raises(ConnectorError, match="refusing to guess"):
            by_cn.set_password(uid, strong_password(), must_change=False)
    finally:
        admin_do(slapd_server, "delete_s", claimant)


def test_a_prepared_write_to_a_renamed_entry_searches_again(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    """The entry moved to another DN after prepare_writes (keeping its uid): the
    write to the old DN finds nothing, the account is searched again and the
    password lands on the entry where it is now."""
    (uid,) = add_users(slapd_server, 1)
    connector.prepare_writes([uid])
    moved = f"cn=moved-{uid}"
    admin_do(slapd_server, "rename_s", f"uid={uid},{slapd_server.people_base}", moved, None, 0)
    password = strong_password()
    connector.set_password(uid, password, must_change=False)
    assert slapd_server.can_bind(f"{moved},{slapd_server.people_base}", password)
    assert connector.passwords_changed_at([uid]).keys() == {uid}


def test_a_prepared_write_to_a_deleted_entry_is_unknown_account(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    (uid,) = add_users(slapd_server, 1)
    connector.prepare_writes([uid])
    admin_do(slapd_server, "delete_s", f"uid={uid},{slapd_server.people_base}")
    with pytest.raises(UnknownAccount):
        connector.set_password(uid, strong_password(), must_change=False)
    assert connector.passwords_changed_at([uid]) == {}


def test_prepare_writes_on_an_unreachable_server_does_not_raise(
    slapd_server: SlapdServer,
) -> None:
    """Best effort: nothing listens, prepare_writes returns quietly; the read and
    the write then fail as they would have (ConnectionFailed, retryable)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = LdapConnector("down", slapd_server.target(url=f"ldap://127.0.0.1:{port}/", timeout_s=1))
    down.prepare_writes(["alice", "bob"])
    with pytest.raises(ConnectionFailed):
        down.passwords_changed_at(["alice"])
    with pytest.raises(ConnectionFailed):
        down.set_password("alice", strong_password(), must_change=False)


def test_prepared_dns_are_spent_once_and_bounded() -> None:
    prepared = PreparedDns(limit=3)
    prepared.put({f"u{n}": f"uid=u{n}" for n in range(5)})
    assert len(prepared) == 3
    assert prepared.take("u0") is None and prepared.take("u1") is None  # the oldest went
    assert prepared.take("U2") == "uid=u2"  # names compare case-insensitively
    assert prepared.take("u2") is None  # used once
    prepared.put({"u3": "uid=u3-again", "u5": "uid=u5", "u6": "uid=u6"})
    assert len(prepared) == 3 and prepared.take("u4") is None
    assert prepared.take("u3") == "uid=u3-again"
