"""OpenLDAP-specific behaviour of the LDAP connector against a real slapd (the
shared SPI behaviour is in tests/contract): TLS modes and certificate checks,
credentials and permissions, ppolicy answers, disable/lock, server outages."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import ldap
import pytest
from pydantic import SecretStr
from servers.slapd import SlapdServer, strong_password
from servers.tls import make_tls_files

from custos.config import SecretSource
from custos.connectors import spi
from custos.connectors.errors import (
    ConnectionFailed,
    PasswordPolicy,
    PermissionDenied,
    Retryable,
)
from custos.connectors.ldap import PERMANENT_LOCK, LdapConnector, parse_generalized_time


def new_account(server: SlapdServer) -> tuple[str, str, str]:
    uid, password = f"it-{secrets.token_hex(4)}", strong_password()
    return uid, password, server.add_user(uid, password)


def lock_in_effect(server: SlapdServer, dn: str) -> None:
    """Wait until slapd's own clock has reached the second of ``dn``'s
    ``pwdAccountLockedTime``. ppolicy (2.5) treats a lock time still in the
    future as not yet in effect and compares whole seconds of two different
    clock reads (the stamp and ``slap_get_time``): a bind in the first moment
    after the lock, across a second boundary, was once seen to succeed in a
    full-suite run. The wait is at most a second."""
    stamp = server.read(dn, "pwdAccountLockedTime")["pwdAccountLockedTime"][0].decode()
    then = parse_generalized_time(stamp)
    while datetime.now(UTC) < then.replace(microsecond=0) + timedelta(seconds=1):
        time.sleep(0.05)


def step(steps: list[spi.TestStep], name: str) -> spi.TestStep:
    found = [s for s in steps if s.name == name]
    assert found, f"no step {name!r} in {steps}"
    return found[0]


@pytest.fixture
def connector(slapd_server: SlapdServer) -> LdapConnector:
    return LdapConnector("openldap", slapd_server.target())


@pytest.fixture
def running_after(slapd_server: SlapdServer) -> Iterator[SlapdServer]:
    """The server, started again after the test whatever happened to it."""
    try:
        yield slapd_server
    finally:
        slapd_server.start()


@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_password_reset_works_over_tls_mode(slapd_server: SlapdServer, mode: str) -> None:
    if mode == "ldaps":
        cfg = slapd_server.target(url=slapd_server.ldaps_url, start_tls=False)
    else:
        cfg = slapd_server.target()
    connector = LdapConnector("openldap", cfg)
    uid, _, dn = new_account(slapd_server)
    new = strong_password()
    connector.set_password(uid, new, must_change=False)
    assert slapd_server.can_bind(dn, new)
    steps = connector.test()
    assert all(s.ok for s in steps), steps
    assert ("LDAPS" if mode == "ldaps" else "StartTLS") in step(steps, "tls").detail


@pytest.mark.parametrize("mode", ["starttls", "ldaps"])
def test_untrusted_server_certificate_fails_tls_step_and_operations(
    slapd_server: SlapdServer, tmp_path: Path, mode: str
) -> None:
    other_ca = make_tls_files(tmp_path, ca_name="Some other CA").ca_file
    url = slapd_server.ldaps_url if mode == "ldaps" else slapd_server.ldap_url
    cfg = slapd_server.target(url=url, start_tls=mode == "starttls", ca_file=other_ca)
    connector = LdapConnector("openldap", cfg)
    uid, _, _ = new_account(slapd_server)

    steps = connector.test()
    assert step(steps, "connect").ok
    assert not step(steps, "tls").ok
    assert str(other_ca) in step(steps, "tls").detail
    assert not any(s.name == "bind" for s in steps)
    with pytest.raises(ConnectionFailed):
        connector.find_account(uid)
    with pytest.raises(ConnectionFailed):
        connector.set_password(uid, strong_password(), must_change=False)
    assert not connector.check_alive()


def test_plain_ldap_without_tls_fails_the_tls_step(slapd_server: SlapdServer) -> None:
    plain = slapd_server.target(start_tls=False, allow_insecure_transport=True)
    connector = LdapConnector("openldap", plain)
    steps = connector.test()
    assert not step(steps, "tls").ok
    assert step(steps, "bind").ok  # the rest still runs, so the report is complete


def test_wrong_bind_password_is_permission_denied(slapd_server: SlapdServer) -> None:
    wrong = "not-the-" + secrets.token_hex(8)
    connector = LdapConnector(
        "openldap", slapd_server.target(bind_password=SecretSource(value=SecretStr(wrong)))
    )
    bind = step(connector.test(), "bind")
    assert not bind.ok and "invalid credentials" in bind.detail
    with pytest.raises(PermissionDenied) as caught:
        connector.find_account("anyone")
    assert wrong not in str(caught.value) and wrong not in caught.value.answer


def test_read_only_service_account_cannot_set_password(slapd_server: SlapdServer) -> None:
    cfg = slapd_server.target(
        bind_dn=slapd_server.readonly_dn,
        bind_password=SecretSource(value=SecretStr(slapd_server.readonly_password)),
    )
    connector = LdapConnector("openldap", cfg)
    uid, old, dn = new_account(slapd_server)
    new = strong_password()
    with pytest.raises(PermissionDenied) as caught:
        connector.set_password(uid, new, must_change=False)
    assert new not in str(caught.value) and new not in caught.value.answer
    assert slapd_server.can_bind(dn, old)
    permission = step(connector.test(), "write_permission")
    assert not permission.ok and "userPassword" in permission.detail


def test_permission_probe_changes_nothing(slapd_server: SlapdServer) -> None:
    connector = LdapConnector("openldap", slapd_server.target())
    _, old, dn = new_account(slapd_server)

    def people() -> list[tuple[str, dict[str, list[bytes]]]]:
        conn = slapd_server.admin()
        try:
            return sorted(
                conn.search_s(slapd_server.people_base, ldap.SCOPE_SUBTREE, "(uid=*)", ["*", "+"])
            )
        finally:
            conn.unbind_s()

    before = people()
    assert step(connector.test(), "write_permission").ok
    assert people() == before
    assert slapd_server.can_bind(dn, old)


def test_too_short_password_is_password_policy_with_the_server_message(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    uid, _, _ = new_account(slapd_server)
    short = "Ab1-" + secrets.token_hex(1)
    with pytest.raises(PasswordPolicy) as caught:
        connector.set_password(uid, short, must_change=False)
    assert caught.value.answer == "Password fails quality checking policy"
    assert short not in str(caught.value) and short not in caught.value.answer
    assert not caught.value.retryable


def test_password_in_history_is_password_policy(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    uid, _, dn = new_account(slapd_server)
    first, second = strong_password(), strong_password()
    connector.set_password(uid, first, must_change=False)
    connector.set_password(uid, second, must_change=False)
    with pytest.raises(PasswordPolicy) as caught:
        connector.set_password(uid, first, must_change=False)
    assert "history" in caught.value.answer
    assert first not in str(caught.value) and first not in caught.value.answer
    assert slapd_server.can_bind(dn, second)


def test_must_change_sets_pwd_reset_and_a_plain_reset_clears_it(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    uid, _, dn = new_account(slapd_server)
    answer = connector.set_password(uid, strong_password(), must_change=True)
    assert "next logon" in answer
    assert slapd_server.read(dn, "pwdReset").get("pwdReset") == [b"TRUE"]
    found = connector.find_account(uid)
    assert found is not None and found.must_change

    connector.set_password(uid, strong_password(), must_change=False)
    assert "pwdReset" not in slapd_server.read(dn, "pwdReset")
    found = connector.find_account(uid)
    assert found is not None and not found.must_change


class CountingConnector(LdapConnector):
    """The connector, counting the writes its connections make (a spy around
    the real python-ldap connection; every call still goes to slapd)."""

    writes: list[str]

    def open(self) -> Any:
        conn = super().open()
        writes = self.writes

        class Counted:
            def __getattr__(self, name: str) -> Any:
                found = getattr(conn, name)
                if name in ("passwd_s", "modify_s", "modify_ext_s", "add_s", "delete_s"):
                    writes.append(name)
                return found

        return Counted()


def test_a_reset_without_must_change_is_one_write_that_clears_pwd_reset(
    slapd_server: SlapdServer,
) -> None:
    """The password modify alone clears a pending pwdReset (ppolicy does it with
    the change), so a reset without must_change makes one directory write."""
    connector = CountingConnector("openldap", slapd_server.target())
    connector.writes = []
    uid, _, dn = new_account(slapd_server)
    connector.force_change(uid)
    assert slapd_server.read(dn, "pwdReset").get("pwdReset") == [b"TRUE"]
    connector.writes.clear()

    new = strong_password()
    connector.set_password(uid, new, must_change=False)
    assert connector.writes == ["passwd_s"]
    assert "pwdReset" not in slapd_server.read(dn, "pwdReset")
    assert slapd_server.can_bind(dn, new)
    found = connector.find_account(uid)
    assert found is not None and not found.must_change


def test_a_repeated_password_without_must_change_still_clears_pwd_reset(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    """A repeat is refused by ppolicy and so changes nothing by itself: the
    connector removes a pwdReset set since the first write."""
    uid, _, dn = new_account(slapd_server)
    new = strong_password()
    connector.set_password(uid, new, must_change=False)
    connector.force_change(uid)
    answer = connector.set_password(uid, new, must_change=False)
    assert "already" in answer
    assert "pwdReset" not in slapd_server.read(dn, "pwdReset")


def test_repeated_reset_with_the_same_password_completes_must_change(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    """A worker resuming after the password was set but before pwdReset was written."""
    uid, _, dn = new_account(slapd_server)
    new = strong_password()
    connector.set_password(uid, new, must_change=False)
    answer = connector.set_password(uid, new, must_change=True)
    assert "already" in answer and new not in answer
    assert slapd_server.read(dn, "pwdReset").get("pwdReset") == [b"TRUE"]
    assert slapd_server.can_bind(dn, new)


def test_force_change_sets_pwd_reset(connector: LdapConnector, slapd_server: SlapdServer) -> None:
    uid, password, dn = new_account(slapd_server)
    connector.force_change(uid)
    assert slapd_server.read(dn, "pwdReset").get("pwdReset") == [b"TRUE"]
    assert slapd_server.can_bind(dn, password)  # the bind works; only a change is allowed


def test_list_accounts_reads_every_page(slapd_server: SlapdServer) -> None:
    connector = LdapConnector("openldap", slapd_server.target(correlation_attribute="cn"))
    connector.page_size = 2
    created = {new_account(slapd_server)[0] for _ in range(5)}
    records = {record.account_id: record for record in connector.list_accounts()}
    assert created <= set(records)
    some = records[next(iter(created))]
    assert some.attributes["uid"] == some.account_id and some.attributes["cn"] == some.account_id


def test_disable_sets_the_permanent_lock_and_enable_restores_bind(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    uid, password, dn = new_account(slapd_server)
    connector.set_enabled(uid, False)
    assert slapd_server.read(dn, "pwdAccountLockedTime")["pwdAccountLockedTime"] == [
        PERMANENT_LOCK.encode()
    ]
    assert not slapd_server.can_bind(dn, password)
    connector.unlock(uid)  # unlocking never re-enables a disabled account
    found = connector.find_account(uid)
    assert found is not None and not found.enabled and not found.locked
    assert not slapd_server.can_bind(dn, password)

    connector.set_enabled(uid, True)
    assert slapd_server.can_bind(dn, password)
    found = connector.find_account(uid)
    assert found is not None and found.enabled


def test_unlock_clears_a_lockout_after_failed_binds(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    uid, password, dn = new_account(slapd_server)
    for _ in range(5):  # the test policy's pwdMaxFailure
        assert not slapd_server.can_bind(dn, "wrong-" + secrets.token_hex(4))
    found = connector.find_account(uid)
    assert found is not None and found.locked and found.enabled
    lock_in_effect(slapd_server, dn)
    assert not slapd_server.can_bind(dn, password)

    connector.unlock(uid)
    assert slapd_server.can_bind(dn, password)
    found = connector.find_account(uid)
    assert found is not None and not found.locked


def test_find_account_escapes_filter_characters(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    new_account(slapd_server)
    assert connector.find_account("*") is None
    assert connector.find_account("it-*)(uid=*") is None


def test_password_changed_at_is_the_utc_pwd_changed_time(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    uid, _, dn = new_account(slapd_server)
    connector.set_password(uid, strong_password(), must_change=False)
    recorded = slapd_server.read(dn, "pwdChangedTime")["pwdChangedTime"][0].decode()
    changed = connector.password_changed_at(uid)
    assert changed == parse_generalized_time(recorded)
    assert changed is not None and abs(datetime.now(UTC) - changed) < timedelta(minutes=1)


def test_generalized_time_parses_fractions_and_offsets() -> None:
    assert parse_generalized_time("20250102030405Z") == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_generalized_time("20250102030405.25Z") == datetime(
        2025, 1, 2, 3, 4, 5, 250000, tzinfo=UTC
    )
    assert parse_generalized_time("20250102050405+0200") == datetime(
        2025, 1, 2, 3, 4, 5, tzinfo=UTC
    )


def test_connector_serves_several_threads_at_once(
    connector: LdapConnector, slapd_server: SlapdServer
) -> None:
    accounts = [new_account(slapd_server) for _ in range(6)]
    passwords = {uid: strong_password() for uid, _, _ in accounts}
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda uid: connector.set_password(uid, passwords[uid], must_change=False),
                      passwords))  # fmt: skip
    for uid, _, dn in accounts:
        assert slapd_server.can_bind(dn, passwords[uid])


def test_stopped_server_is_connection_failed_until_restarted(
    connector: LdapConnector, running_after: SlapdServer
) -> None:
    server = running_after
    uid, _, _ = new_account(server)
    server.stop()
    with pytest.raises(ConnectionFailed) as caught:
        connector.find_account(uid)
    assert isinstance(caught.value, Retryable) and caught.value.retryable
    assert not connector.check_alive()
    assert not step(connector.test(), "connect").ok

    server.start()
    assert connector.check_alive()
    found = connector.find_account(uid)
    assert found is not None and found.account_id == uid
