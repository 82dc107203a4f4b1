"""The SCIM connector against a real SCIM 2.0 server (scim2-server on loopback,
see ``tests/servers/scim.py``): both authentication modes, the error mapping at
the boundary, and what SCIM can and cannot record."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from servers.scim import POLICY_DETAIL, ScimServer, scim_target, strong_password
from servers.tls import make_tls_files

from custos.config import ScimOAuth2, SecretSource
from custos.connectors.errors import (
    ConnectionFailed,
    PasswordPolicy,
    PermissionDenied,
    Retryable,
    UnknownAccount,
    Unsupported,
)
from custos.connectors.scim import ScimConnector


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ScimServer, Path]]:
    tls = make_tls_files(tmp_path_factory.mktemp("scim-tls"))
    server = ScimServer(tls)
    server.start()
    yield server, tls.ca_file
    server.stop()


@pytest.fixture
def connector(scim_server: ScimServer) -> Iterator[ScimConnector]:
    found = ScimConnector("cloud", scim_target(scim_server))
    yield found
    found.close()


def new_user(server: ScimServer, account: str | None = None) -> tuple[str, str]:
    account, password = account or f"user-{secrets.token_hex(4)}", strong_password()
    server.create_user(account, password)
    return account, password


def oauth2_connector(server: ScimServer, client_id: str, secret: str) -> ScimConnector:
    oauth2 = ScimOAuth2(
        token_url=server.token_url,
        client_id=client_id,
        client_secret=SecretSource(value=SecretStr(secret)),
        scope="scim.write",
    )
    return ScimConnector("cloud", scim_target(server, oauth2=oauth2))


def test_set_password_replaces_it_with_a_static_bearer_token(
    scim_server: ScimServer, connector: ScimConnector
) -> None:
    account, old = new_user(scim_server)
    new = strong_password()
    assert connector.set_password(account, new, must_change=False) == "password replaced"
    assert scim_server.can_login(account, new)
    assert not scim_server.can_login(account, old)


def test_oauth2_token_is_fetched_once_and_reused_before_expiry(scim_server: ScimServer) -> None:
    client_id, secret = scim_server.oauth_client(lifetime_s=3600)
    connector = oauth2_connector(scim_server, client_id, secret)
    account, _ = new_user(scim_server)
    new = strong_password()
    connector.set_password(account, new, must_change=False)
    connector.set_enabled(account, True)
    assert connector.find_account(account) is not None
    assert scim_server.can_login(account, new)
    assert scim_server.tokens_issued(client_id) == 1
    connector.close()


def test_oauth2_token_is_refreshed_when_it_nears_expiry(scim_server: ScimServer) -> None:
    client_id, secret = scim_server.oauth_client(lifetime_s=2)  # refreshed after 1 s
    connector = oauth2_connector(scim_server, client_id, secret)
    account, _ = new_user(scim_server)
    assert connector.find_account(account) is not None
    assert connector.find_account(account) is not None
    assert scim_server.tokens_issued(client_id) == 1
    time.sleep(1.2)
    assert connector.find_account(account) is not None
    assert scim_server.tokens_issued(client_id) == 2
    connector.close()


def test_wrong_oauth2_client_secret_is_permission_denied(scim_server: ScimServer) -> None:
    client_id, _ = scim_server.oauth_client()
    connector = oauth2_connector(scim_server, client_id, "not-the-secret")
    with pytest.raises(PermissionDenied) as caught:
        connector.find_account("anyone")
    assert caught.value.answer == "invalid_client"
    assert "not-the-secret" not in str(caught.value)
    connector.close()


def test_wrong_bearer_token_is_permission_denied(scim_server: ScimServer) -> None:
    account, password = new_user(scim_server)
    wrong = scim_target(scim_server, bearer_token=SecretSource(value=SecretStr("wrong-token")))
    connector = ScimConnector("cloud", wrong)
    with pytest.raises(PermissionDenied):
        connector.set_password(account, strong_password(), must_change=False)
    assert scim_server.can_login(account, password)
    steps = {step.name: step for step in connector.test()}
    assert steps["connect"].ok and not steps["authenticate"].ok
    connector.close()


def test_too_short_password_is_password_policy_with_the_server_detail(
    scim_server: ScimServer, connector: ScimConnector
) -> None:
    account, password = new_user(scim_server)
    short = "Sh0rt-pw"
    with pytest.raises(PasswordPolicy) as caught:
        connector.set_password(account, short, must_change=False)
    assert caught.value.answer == POLICY_DETAIL
    assert short not in str(caught.value) and short not in caught.value.answer
    assert not caught.value.retryable
    assert scim_server.can_login(account, password)


def test_set_password_of_unknown_user_name_is_unknown_account(connector: ScimConnector) -> None:
    nobody = "nobody-" + secrets.token_hex(4)
    with pytest.raises(UnknownAccount):
        connector.set_password(nobody, strong_password(), must_change=False)
    with pytest.raises(UnknownAccount):
        connector.set_enabled(nobody, False)
    with pytest.raises(UnknownAccount):
        connector.password_changed_at(nobody)
    assert connector.find_account(nobody) is None


def test_must_change_is_unsupported_and_leaves_the_password_alone(
    scim_server: ScimServer, connector: ScimConnector
) -> None:
    account, password = new_user(scim_server)
    with pytest.raises(Unsupported) as caught:
        connector.set_password(account, strong_password(), must_change=True)
    assert "next logon" in str(caught.value)
    assert scim_server.can_login(account, password)


def test_active_round_trips_false_then_true(
    scim_server: ScimServer, connector: ScimConnector
) -> None:
    account, password = new_user(scim_server)
    connector.set_enabled(account, False)
    disabled = connector.find_account(account)
    assert disabled is not None and not disabled.enabled
    assert not scim_server.can_login(account, password)
    connector.set_enabled(account, True)
    enabled = connector.find_account(account)
    assert enabled is not None and enabled.enabled
    assert not enabled.locked and not enabled.must_change
    assert scim_server.can_login(account, password)


def test_last_modified_moves_forward_after_a_password_set(
    scim_server: ScimServer, connector: ScimConnector
) -> None:
    account, _ = new_user(scim_server)
    before = connector.password_changed_at(account)
    assert before is not None and before.tzinfo is not None
    time.sleep(0.01)
    connector.set_password(account, strong_password(), must_change=False)
    after = connector.password_changed_at(account)
    assert after is not None and after > before
    found = connector.find_account(account)
    assert found is not None and found.password_changed_at == after


def test_stopped_server_is_connection_failed_until_restarted(
    scim_server: ScimServer, connector: ScimConnector
) -> None:
    account, _ = new_user(scim_server)
    scim_server.stop()
    try:
        with pytest.raises(ConnectionFailed) as caught:
            connector.find_account(account)
        assert isinstance(caught.value, Retryable) and caught.value.retryable
        assert not connector.check_alive()
        steps = connector.test()
        assert [(step.name, step.ok) for step in steps] == [("connect", False)]
    finally:
        scim_server.start()
    assert connector.check_alive()
    assert connector.find_account(account) is not None


def test_user_name_with_quote_and_backslash_is_found_by_filter(
    scim_server: ScimServer, connector: ScimConnector
) -> None:
    suffix = secrets.token_hex(4)
    account, _ = new_user(scim_server, f'o"brien\\x-{suffix}')
    lookalike, _ = new_user(scim_server, f"obrienx-{suffix}")  # the name, quotes dropped
    found = connector.find_account(account)
    assert found is not None and found.account_id == account
    new = strong_password()
    connector.set_password(account, new, must_change=False)
    assert scim_server.can_login(account, new)
    assert not scim_server.can_login(lookalike, new)


def test_connection_test_reports_every_step_on_a_healthy_server(
    connector: ScimConnector,
) -> None:
    steps = connector.test()
    assert [step.name for step in steps] == [
        "connect",
        "authenticate",
        "patch",
        "change_password",
        "list_users",
    ]
    assert all(step.ok for step in steps), steps
    assert connector.check_alive()


def test_https_with_the_configured_ca_file_verifies_and_works(
    https_server: tuple[ScimServer, Path],
) -> None:
    server, ca_file = https_server
    connector = ScimConnector("cloud", scim_target(server).model_copy(update={"ca_file": ca_file}))
    account, _ = new_user(server)
    new = strong_password()
    connector.set_password(account, new, must_change=False)
    assert server.can_login(account, new)
    steps = connector.test()
    assert steps[0].ok and "verified TLS" in steps[0].detail
    connector.close()


def test_https_without_the_ca_file_is_connection_failed(
    https_server: tuple[ScimServer, Path],
) -> None:
    server, _ = https_server
    connector = ScimConnector("cloud", scim_target(server))
    with pytest.raises(ConnectionFailed) as caught:
        connector.find_account("anyone")
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.answer
    steps = connector.test()
    assert [(step.name, step.ok) for step in steps] == [("connect", False)]
    connector.close()
