"""The connector contract: every connector, against its real server, behaves the
same way through the SPI (STYLE 6). A capability a connector lacks generates no
test for it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from contract_harness import KINDS, Harness, kinds_with

from custos.connectors.errors import ConnectorError, UnknownAccount
from custos.connectors.spi import (
    AuthenticateOp,
    EnableOp,
    FindAccountOp,
    ForceChangeOp,
    ListAccountsOp,
    PrepareWritesOp,
    ReadPasswordChangedManyOp,
    ReadPasswordChangedOp,
    RevokeSessionsOp,
    SetPasswordOp,
    UnlockOp,
)
from custos.connectors.spi import (
    TestOp as ConnectionTestOp,
)

needs = pytest.mark.needs


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "harness" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("needs")
    kinds = kinds_with(marker.args[0]) if marker else list(KINDS)
    metafunc.parametrize("harness", kinds, indirect=True)


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Harness:
    found = request.getfixturevalue(f"{request.param}_harness")
    assert isinstance(found, Harness)
    return found


@needs("set_password")
def test_set_password_replaces_the_old_one(harness: Harness) -> None:
    account, old = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, SetPasswordOp)
    new = harness.strong_password()
    answer = connector.set_password(account, new, must_change=False)
    assert new not in answer  # the target's answer never echoes the secret
    assert harness.can_login(account, new)
    assert not harness.can_login(account, old)


@needs("set_password")
def test_set_password_of_unknown_account_is_unknown_account(harness: Harness) -> None:
    connector = harness.connector
    assert isinstance(connector, SetPasswordOp)
    with pytest.raises(UnknownAccount):
        connector.set_password("no-such-account-42", harness.strong_password(), must_change=False)


@needs("set_password")
def test_setting_the_same_password_twice_is_idempotent(harness: Harness) -> None:
    """A worker that resumes after a crash may send the same secret again."""
    account, _ = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, SetPasswordOp)
    new = harness.strong_password()
    connector.set_password(account, new, must_change=False)
    try:
        connector.set_password(account, new, must_change=False)
    except ConnectorError as exc:  # history rules may refuse a repeat: clearly, not silently
        assert exc.answer
    assert harness.can_login(account, new)


@needs("read_password_changed")
def test_password_changed_time_moves_past_the_change(harness: Harness) -> None:
    account, _ = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, ReadPasswordChangedOp) and isinstance(connector, SetPasswordOp)
    time.sleep(1.1)  # directories record whole seconds
    before = datetime.now(UTC) - timedelta(seconds=5)
    connector.set_password(account, harness.strong_password(), must_change=False)
    changed = connector.password_changed_at(account)
    assert changed is not None and changed.tzinfo is not None
    assert changed >= before


@needs("read_password_changed_many")
def test_passwords_changed_at_answers_as_one_read_per_account_would(harness: Harness) -> None:
    """The read-back of a propagated batch (DESIGN, verifying: ``read_back``): for
    every account asked, what ``password_changed_at`` answers, under the id as
    asked; a changed account shows the change, untouched ones an earlier time,
    and an account the target lacks is absent."""
    accounts = [harness.create_account()[0] for _ in range(3)]
    connector = harness.connector
    assert isinstance(connector, ReadPasswordChangedManyOp)
    assert isinstance(connector, ReadPasswordChangedOp) and isinstance(connector, SetPasswordOp)
    time.sleep(1.1)  # directories record whole seconds
    before = datetime.now(UTC) - timedelta(seconds=5)
    connector.set_password(accounts[0], harness.strong_password(), must_change=False)

    found = connector.passwords_changed_at([*accounts, "no-such-account-42", accounts[1]])

    assert found == {account: connector.password_changed_at(account) for account in accounts}
    changed = found[accounts[0]]
    assert changed is not None and changed.tzinfo is not None and changed >= before
    for untouched in accounts[1:]:  # None where the target stamps no time at creation
        at = found[untouched]
        assert at is None or at < changed


@needs("read_password_changed_many")
def test_passwords_changed_at_takes_filter_characters_literally(harness: Harness) -> None:
    """Ids are values, never filter syntax: ``*`` or a parenthesis in an id matches
    only an account of exactly that name, so it cannot pull in other accounts."""
    account, _ = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, ReadPasswordChangedManyOp)
    hostile = [f"{account[:-2]}*", "*", "a*b(c)", f"{account})(objectClass=*", "x\\2a", "(|"]
    assert connector.passwords_changed_at([*hostile, account]).keys() == {account}
    assert connector.passwords_changed_at(hostile) == {}


@needs("read_password_changed_many")
def test_passwords_changed_at_answers_for_accounts_in_every_batch(harness: Harness) -> None:
    """250 ids (more than two searches' worth where a target batches them) with
    real accounts first, in the middle and last: all three are answered."""
    real = [harness.create_account()[0] for _ in range(3)]
    asked = [f"no-such-account-{n}" for n in range(250)]
    asked[0], asked[120], asked[249] = real
    connector = harness.connector
    assert isinstance(connector, ReadPasswordChangedManyOp) and isinstance(connector, SetPasswordOp)
    for account in real:  # every one with a change time to report
        connector.set_password(account, harness.strong_password(), must_change=False)
    found = connector.passwords_changed_at(asked)
    assert found.keys() == set(real) and all(found[account] for account in real)
    assert connector.passwords_changed_at([]) == {}


@needs("prepare_writes")
def test_writes_after_prepare_writes_take_effect_and_read_back(harness: Harness) -> None:
    """Prepared writes behave as plain ones: each new password opens its account,
    the old one no longer does, the read-back (DESIGN, verifying: ``read_back``)
    shows the change, and a second write (its prepared lookup spent) works too."""
    accounts = dict(harness.create_account() for _ in range(3))
    connector = harness.connector
    assert isinstance(connector, PrepareWritesOp) and isinstance(connector, SetPasswordOp)
    assert isinstance(connector, ReadPasswordChangedManyOp)
    time.sleep(1.1)  # directories record whole seconds
    before = datetime.now(UTC) - timedelta(seconds=5)

    connector.prepare_writes([*accounts, "no-such-account-42"])
    new = {account: harness.strong_password() for account in accounts}
    for account, password in new.items():
        assert password not in connector.set_password(account, password, must_change=False)

    for account, old in accounts.items():
        assert harness.can_login(account, new[account])
        assert not harness.can_login(account, old)
    read_back = connector.passwords_changed_at(list(accounts))
    assert all((at := read_back[account]) and at >= before for account in accounts)
    first = next(iter(accounts))
    again = harness.strong_password()
    connector.set_password(first, again, must_change=False)
    assert harness.can_login(first, again)


@needs("prepare_writes")
def test_prepare_writes_of_unknown_accounts_changes_nothing(harness: Harness) -> None:
    """Best effort, never an error: unknown ids (filter characters included) and
    an empty batch are accepted, and a write to an unknown account is still
    UnknownAccount."""
    connector = harness.connector
    assert isinstance(connector, PrepareWritesOp) and isinstance(connector, SetPasswordOp)
    connector.prepare_writes([])
    connector.prepare_writes(["no-such-account-42", "*", "a*b(c)"])
    with pytest.raises(UnknownAccount):
        connector.set_password("no-such-account-42", harness.strong_password(), must_change=False)
    with pytest.raises(UnknownAccount):
        connector.set_password("*", harness.strong_password(), must_change=False)


@needs("find_account")
def test_find_account_reports_the_account_or_none(harness: Harness) -> None:
    account, _ = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, FindAccountOp)
    found = connector.find_account(account)
    assert found is not None and found.account_id == account and found.enabled
    assert connector.find_account("no-such-account-42") is None


@needs("enable")
def test_disabled_account_cannot_log_in_until_enabled(harness: Harness) -> None:
    account, password = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, EnableOp)
    connector.set_enabled(account, False)
    assert not harness.can_login(account, password)
    connector.set_enabled(account, True)
    assert harness.can_login(account, password)


@needs("authenticate")
def test_authenticate_agrees_with_a_real_login(harness: Harness) -> None:
    """Subject sign-in (R-27, R-28) checks the password as the target itself does:
    the right password opens the account, a wrong or empty one and an unknown
    account do not, and the answer matches the harness's own login."""
    account, password = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, AuthenticateOp)
    assert connector.authenticate(account, password) is harness.can_login(account, password)
    assert connector.authenticate(account, password)
    assert not connector.authenticate(account, password + "x")
    assert not connector.authenticate(account, "")
    assert not connector.authenticate("no-such-account-42", password)
    if isinstance(connector, EnableOp):
        connector.set_enabled(account, False)
        assert not connector.authenticate(account, password)
        connector.set_enabled(account, True)
        assert connector.authenticate(account, password)


@needs("unlock")
def test_unlock_of_an_unlocked_account_is_harmless(harness: Harness) -> None:
    account, password = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, UnlockOp)
    connector.unlock(account)
    assert harness.can_login(account, password)


@needs("force_change")
def test_must_change_is_recorded_when_asked(harness: Harness) -> None:
    account, _ = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, SetPasswordOp) and isinstance(connector, FindAccountOp)
    connector.set_password(account, harness.strong_password(), must_change=True)
    found = connector.find_account(account)
    assert found is not None and found.must_change


@needs("force_change")
def test_force_change_marks_the_account(harness: Harness) -> None:
    account, _ = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, ForceChangeOp) and isinstance(connector, FindAccountOp)
    connector.force_change(account)
    found = connector.find_account(account)
    assert found is not None and found.must_change


@needs("revoke_sessions")
def test_revoke_sessions_answers_a_count(harness: Harness) -> None:
    account, _ = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, RevokeSessionsOp)
    assert connector.revoke_sessions(account) >= 0


@needs("test")
def test_connection_test_passes_against_a_healthy_target(harness: Harness) -> None:
    connector = harness.connector
    assert isinstance(connector, ConnectionTestOp)
    steps = connector.test()
    assert steps and all(step.ok for step in steps), steps
    assert connector.check_alive()


@needs("list_accounts")
def test_list_accounts_includes_a_new_account(harness: Harness) -> None:
    account, _ = harness.create_account()
    connector = harness.connector
    assert isinstance(connector, ListAccountsOp)
    listed = {record.account_id: record for record in connector.list_accounts()}
    assert account in listed
    assert all(isinstance(v, str) for v in listed[account].attributes.values())
