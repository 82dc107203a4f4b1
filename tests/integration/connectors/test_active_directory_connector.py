"""The Active Directory connector against a real Samba AD DC (tests/servers/samba.py).

Beyond the shared contract: AD's own policy answers, pwdLastSet, lockout,
userAccountControl, TLS rules, a service account without rights, and a DC that
goes away and comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import ldap
import pytest
from servers.samba import SambaDC, ad_target, new_user, strong_password
from servers.tls import make_tls_files

from custos.connectors.active_directory import ActiveDirectoryConnector, filetime_to_datetime
from custos.connectors.active_directory_errors import translate
from custos.connectors.errors import (
    ConnectionFailed,
    ConnectorError,
    PasswordPolicy,
    PermissionDenied,
    UnknownAccount,
)


@pytest.fixture(scope="module")
def ad(samba_dc: SambaDC) -> ActiveDirectoryConnector:
    return ActiveDirectoryConnector("corp-ad", ad_target(samba_dc))


def _assert_secret_absent(error: ConnectorError, password: str) -> None:
    assert password not in str(error) and password not in error.answer


def test_old_password_dies_at_once_after_a_reset(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    sam, old = new_user(samba_dc)
    new = strong_password()
    answer = ad.set_password(sam, new, must_change=False)
    assert new not in answer and "reset" in answer
    assert samba_dc.can_login(sam, new)
    assert "data 52e" in (samba_dc.bind_refusal(sam, old) or "")


def test_reset_stamps_pwdlastset_with_the_time_of_the_reset(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    sam, _ = new_user(samba_dc)
    before = datetime.now(UTC) - timedelta(seconds=5)
    ad.set_password(sam, strong_password(), must_change=False)
    changed = ad.password_changed_at(sam)
    assert changed is not None and before <= changed <= datetime.now(UTC) + timedelta(seconds=5)
    found = ad.find_account(sam)
    assert found is not None and not found.must_change and found.password_changed_at == changed


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("alllowercaseletters", "complexity"),  # long enough, one character class
        ("Aa1!x", "minimum length"),  # complex but short
    ],
)
def test_weak_password_is_refused_with_the_reason_and_nothing_changes(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector, password: str, reason: str
) -> None:
    sam, old = new_user(samba_dc)
    with pytest.raises(PasswordPolicy) as refused:
        ad.set_password(sam, password, must_change=True)
    assert refused.value.answer.startswith("the domain refused the password:")
    assert reason in refused.value.answer and "0000052D" in refused.value.answer
    _assert_secret_absent(refused.value, password)
    assert samba_dc.can_login(sam, old)  # neither the password nor pwdLastSet moved
    found = ad.find_account(sam)
    assert found is not None and not found.must_change


def test_history_refusal_names_the_history_rule_without_the_password() -> None:
    """Samba 4.17 applies no history to an administrative reset (it ignores
    LDAP_SERVER_POLICY_HINTS), so Windows's answer is fed to the mapping directly."""
    secret = "Aa1!reused-password"
    windows = ldap.CONSTRAINT_VIOLATION(
        {
            "result": 19,
            "desc": "Constraint violation",
            "info": "0000052D: Constraint violation - check_password_restrictions: "
            "the password was already used (in history)!",
        }
    )
    error = translate(windows, target="corp-ad", doing="resetting a password", secret=secret)
    assert isinstance(error, PasswordPolicy)
    assert "password history" in error.answer and "0000052D" in error.answer
    _assert_secret_absent(error, secret)


def test_diagnostic_that_echoes_the_password_is_dropped() -> None:
    secret = "Aa1!echoed-secret"
    echoing = ldap.UNWILLING_TO_PERFORM({"result": 53, "info": f"00000057: bad value {secret}"})
    error = translate(echoing, target="corp-ad", doing="resetting a password", secret=secret)
    _assert_secret_absent(error, secret)
    assert error.answer == "00000057"


def test_must_change_sets_pwdlastset_zero_and_find_account_says_so(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    sam, _ = new_user(samba_dc)
    new = strong_password()
    before = datetime.now(UTC) - timedelta(seconds=5)
    answer = ad.set_password(sam, new, must_change=True)
    assert "change required at next logon" in answer
    # AD takes the new password but refuses a logon until it is changed (data 773).
    assert "data 773" in (samba_dc.bind_refusal(sam, new) or "")
    dn = f"CN={sam},{samba_dc.user_base}"
    assert samba_dc.read(dn, "pwdLastSet")["pwdLastSet"] == [b"0"]
    found = ad.find_account(sam)
    assert found is not None and found.must_change and found.password_changed_at is None
    # pwdLastSet says nothing while the change is pending: read-back uses whenChanged,
    # so a temporary-password recovery still verifies.
    changed = ad.password_changed_at(sam)
    assert changed is not None and changed >= before


def test_disabled_account_cannot_bind_until_enabled_again(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    sam, password = new_user(samba_dc)
    dn = f"CN={sam},{samba_dc.user_base}"
    ad.set_enabled(sam, False)
    assert samba_dc.read(dn, "userAccountControl")["userAccountControl"] == [b"514"]
    assert "data 533" in (samba_dc.bind_refusal(sam, password) or "")
    found = ad.find_account(sam)
    assert found is not None and not found.enabled
    ad.set_enabled(sam, False)  # already disabled: no change, no error
    ad.set_enabled(sam, True)
    assert samba_dc.read(dn, "userAccountControl")["userAccountControl"] == [b"512"]
    assert samba_dc.can_login(sam, password)


def test_unlock_clears_a_lockout_from_failed_binds(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    sam, password = new_user(samba_dc)
    for attempt in range(5):  # the domain locks out after 5 bad passwords
        assert not samba_dc.can_login(sam, f"Wrong{attempt}!password")
    assert "data 775" in (samba_dc.bind_refusal(sam, password) or "")
    locked = ad.find_account(sam)
    assert locked is not None and locked.locked
    ad.unlock(sam)
    dn = f"CN={sam},{samba_dc.user_base}"
    assert samba_dc.read(dn, "lockoutTime")["lockoutTime"] == [b"0"]
    unlocked = ad.find_account(sam)
    assert unlocked is not None and not unlocked.locked
    assert samba_dc.can_login(sam, password)


def test_find_account_by_user_principal_name_when_configured(samba_dc: SambaDC) -> None:
    sam, _ = new_user(samba_dc)
    by_upn = ActiveDirectoryConnector(
        "corp-ad", ad_target(samba_dc, account_attribute="userPrincipalName")
    )
    found = by_upn.find_account(f"{sam}@custos.test")
    assert found is not None and found.account_id == f"{sam}@custos.test"
    assert by_upn.find_account(f"{sam}*") is None  # filter characters are escaped


def test_operations_on_an_unknown_account_are_unknown_account(
    ad: ActiveDirectoryConnector,
) -> None:
    for operation in (ad.unlock, ad.password_changed_at, lambda a: ad.set_enabled(a, False)):
        with pytest.raises(UnknownAccount):
            operation("no-such-account-42")


def test_plain_user_as_service_account_is_permission_denied(samba_dc: SambaDC) -> None:
    service, service_password = new_user(samba_dc)
    victim, victim_password = new_user(samba_dc)
    weak = ActiveDirectoryConnector(
        "corp-ad",
        ad_target(
            samba_dc,
            bind_dn=f"CN={service},{samba_dc.user_base}",
            password=service_password,
        ),
    )
    new = strong_password()
    with pytest.raises(PermissionDenied) as denied:
        weak.set_password(victim, new, must_change=False)
    _assert_secret_absent(denied.value, new)
    assert samba_dc.can_login(victim, victim_password)
    steps = {step.name: step for step in weak.test()}
    assert steps["bind"].ok and steps["base"].ok
    assert not steps["permissions"].ok and "unicodePwd" in steps["permissions"].detail


def test_wrong_service_password_is_permission_denied(samba_dc: SambaDC) -> None:
    wrong = ActiveDirectoryConnector("corp-ad", ad_target(samba_dc, password="Not-the-one-1!"))
    with pytest.raises(PermissionDenied, match="wrong password"):
        wrong.find_account("Administrator")
    steps = wrong.test()
    assert steps[0].ok and steps[-1].name == "bind" and not steps[-1].ok


def test_start_tls_on_plain_port_resets_a_password(samba_dc: SambaDC) -> None:
    over_start_tls = ActiveDirectoryConnector(
        "corp-ad", ad_target(samba_dc, url=samba_dc.ldap_url, start_tls=True)
    )
    sam, _ = new_user(samba_dc)
    new = strong_password()
    over_start_tls.set_password(sam, new, must_change=False)
    assert samba_dc.can_login(sam, new)
    assert all(step.ok for step in over_start_tls.test())


def test_untrusted_certificate_fails_the_connect_step(samba_dc: SambaDC, tmp_path: Path) -> None:
    other = make_tls_files(tmp_path, ca_name="Some other CA")
    untrusting = ActiveDirectoryConnector("corp-ad", ad_target(samba_dc, ca_file=other.ca_file))
    steps = untrusting.test()
    assert [step.name for step in steps] == ["connect"] and not steps[0].ok
    assert not untrusting.check_alive()
    with pytest.raises(ConnectionFailed):
        untrusting.find_account("Administrator")


def test_stopped_server_is_connection_failed_and_recovers_after_start(
    samba_dc: SambaDC, ad: ActiveDirectoryConnector
) -> None:
    sam, _ = new_user(samba_dc)
    assert ad.check_alive()  # the shared connection exists before the DC goes away
    samba_dc.stop()
    try:
        with pytest.raises(ConnectionFailed) as down:
            ad.set_password(sam, strong_password(), must_change=False)
        assert down.value.retryable
        assert not ad.check_alive()
        assert not ad.test()[0].ok
    finally:
        samba_dc.start()
    new = strong_password()
    ad.set_password(sam, new, must_change=False)
    assert samba_dc.can_login(sam, new)
    assert ad.check_alive()


def test_filetime_converts_to_aware_utc_and_zero_to_none() -> None:
    assert filetime_to_datetime(0) is None
    assert filetime_to_datetime(-1) is None
    # 2026-01-01T00:00:00Z is 134116992000000000 ticks of 100 ns after 1601-01-01.
    assert filetime_to_datetime(134116992000000000) == datetime(2026, 1, 1, tzinfo=UTC)
