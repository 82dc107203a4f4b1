"""The Okta connector against the local Okta server (servers.okta), which
validates every request against schemas written from Okta's published OpenAPI
descriptions (release 2026.06.3) and records any that does not match: each test
ends asserting there was none. What these tests prove, and what they cannot, is
in docs/connectors.md#what-the-cloud-tests-prove."""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterator

import httpx
import pytest
from servers.cloud_base import Answer
from servers.okta import OktaFactor, OktaServer, okta_error, rate_limited, strong_password

from custos.config import ConfigError, load_settings
from custos.connectors.errors import (
    ConnectorError,
    PasswordPolicy,
    PermissionDenied,
    Retryable,
    UnknownAccount,
    Unsupported,
)
from custos.connectors.okta import OktaConnector
from custos.connectors.spi import capabilities

USERS = r"/api/v1/users/[^/]+"


@pytest.fixture
def okta(okta_server: OktaServer) -> Iterator[OktaServer]:
    okta_server.clear()
    yield okta_server
    failures = list(okta_server.failures)
    okta_server.clear()
    okta_server.max_page = 200
    assert failures == [], failures


@pytest.fixture
def connector(okta: OktaServer) -> Iterator[OktaConnector]:
    made = OktaConnector("okta", okta.target())
    yield made
    made.close()


@pytest.fixture
def oauth_connector(okta: OktaServer) -> Iterator[OktaConnector]:
    made = OktaConnector("okta", okta.oauth_target())
    yield made
    made.close()


def _user(okta: OktaServer, **kwargs: str) -> tuple[str, str]:
    login, password = f"u-{secrets.token_hex(4)}@example.test", strong_password()
    okta.add_user(login, password, **kwargs)
    return login, password


def test_capabilities_are_what_the_management_api_offers(connector: OktaConnector) -> None:
    assert capabilities(connector) == {
        "set_password",
        "force_change",
        "revoke_sessions",
        "read_factors",
        "reset_factors",
        "read_password_changed",
        "find_account",
        "list_accounts",
        "unlock",
        "enable",
        "test",
    }


def test_set_password_with_must_change_expires_it(
    okta: OktaServer, connector: OktaConnector
) -> None:
    login, old = _user(okta)
    new = strong_password()
    answer = connector.set_password(login, new, must_change=True)
    assert new not in answer and "change required" in answer
    found = connector.find_account(login)
    assert found is not None and found.must_change and found.enabled and not found.locked
    assert okta.can_login(login, new) and not okta.can_login(login, old)
    assert okta.count(rf"POST {USERS}/lifecycle/expire_password") == 1
    assert connector.password_changed_at(login) == found.password_changed_at


def test_find_by_login_ignores_case_and_never_takes_an_id_or_short_name(
    okta: OktaServer, connector: OktaConnector
) -> None:
    login, _ = _user(okta)
    user = okta.user(login)
    assert user is not None
    assert connector.find_account(login.upper()) is not None
    assert connector.find_account(user.id) is None  # Okta finds ids too; Custos names logins
    assert connector.find_account(login.split("@")[0]) is None  # and short names
    assert connector.find_account('a"b@example.test') is None


def test_a_login_with_a_slash_is_found_by_filter(
    okta: OktaServer, connector: OktaConnector
) -> None:
    login = f"dept/u-{secrets.token_hex(3)}@example.test"
    okta.add_user(login, strong_password())
    found = connector.find_account(login)
    assert found is not None and found.account_id == login
    assert okta.count(r"GET /api/v1/users") == 1
    assert connector.find_account(f"dept/nobody-{secrets.token_hex(3)}@example.test") is None


def test_refused_password_is_password_policy_with_okta_causes_without_the_secret(
    okta: OktaServer, connector: OktaConnector
) -> None:
    login, old = _user(okta)
    with pytest.raises(PasswordPolicy) as caught:
        connector.set_password(login, "short-1A", must_change=False)
    assert "short-1A" not in caught.value.answer
    assert "E0000001" in caught.value.answer and "requirements were not met" in caught.value.answer
    with pytest.raises(PasswordPolicy, match="refused the password") as again:
        connector.set_password(login, old, must_change=False)
    assert "current password" in again.value.answer and old not in again.value.answer
    assert okta.can_login(login, old)


def test_revoke_sessions_clears_sessions_and_oauth_tokens(
    okta: OktaServer, connector: OktaConnector
) -> None:
    login, password = _user(okta)
    assert okta.sign_in(login, password) is not None
    user = okta.user(login)
    assert user is not None and user.sessions and user.oauth_tokens
    assert connector.revoke_sessions(login) == 1
    assert not user.sessions and not user.oauth_tokens
    assert okta.count(rf"DELETE {USERS}/sessions") == 1
    with pytest.raises(UnknownAccount):
        connector.revoke_sessions("nobody@example.test")


def test_revoke_sessions_keeps_oauth_tokens_when_configured(okta: OktaServer) -> None:
    login, password = _user(okta)
    okta.sign_in(login, password)
    keeping = OktaConnector("okta", okta.target(revoke_oauth_tokens=False))
    try:
        assert keeping.revoke_sessions(login) == 1
    finally:
        keeping.close()
    user = okta.user(login)
    assert user is not None and not user.sessions and user.oauth_tokens


def test_factors_are_mapped_and_reset_with_okta_verify_going_as_one(
    okta: OktaServer, connector: OktaConnector
) -> None:
    """R-6: WebAuthn reads as webauthn, a software TOTP as totp, a pending factor
    not at all; a reset unenrolls every factor (Okta Verify's TOTP goes with its
    push) and reads back that none remains."""
    login, _ = _user(okta)
    user = okta.user(login)
    assert user is not None
    for factor in (
        OktaFactor("fwf1", "webauthn", "FIDO"),
        OktaFactor("opf1", "push"),
        OktaFactor("ost1", "token:software:totp"),
        OktaFactor("sms1", "sms", status="PENDING_ACTIVATION"),
    ):
        user.factors[factor.id] = factor
    assert connector.bound_factors(login) == {"webauthn", "push", "totp"}
    assert connector.reset_factors(login) == 4
    assert user.factors == {}
    assert okta.count(rf"DELETE {USERS}/factors/ost1") == 1  # answered 404: gone with the push
    assert connector.bound_factors(login) == frozenset()
    assert connector.reset_factors(login) == 0


def test_reset_factors_that_leaves_one_behind_is_an_error(
    okta: OktaServer, connector: OktaConnector
) -> None:
    login, _ = _user(okta)
    user = okta.user(login)
    assert user is not None
    user.factors["fwf1"] = OktaFactor("fwf1", "webauthn", "FIDO")
    okta.inject(rf"DELETE {USERS}/factors/fwf1", Answer(204))  # answered, not done
    with pytest.raises(ConnectorError, match=r"still lists factors.*webauthn"):
        connector.reset_factors(login)


def test_locked_user_is_reported_and_unlocked(okta: OktaServer, connector: OktaConnector) -> None:
    login, password = _user(okta, status="LOCKED_OUT")
    found = connector.find_account(login)
    assert found is not None and found.locked and not okta.can_login(login, password)
    connector.unlock(login)
    assert okta.can_login(login, password)
    connector.unlock(login)  # not locked: nothing sent
    assert okta.count(rf"POST {USERS}/lifecycle/unlock") == 1


def test_deactivated_user_is_not_enabled_here(okta: OktaServer, connector: OktaConnector) -> None:
    login, _ = _user(okta, status="DEPROVISIONED")
    found = connector.find_account(login)
    assert found is not None and not found.enabled
    with pytest.raises(Unsupported, match="reactivate"):
        connector.set_enabled(login, True)


def test_directory_sourced_user_in_cloud_only_org_is_refused_unwritten(
    okta: OktaServer, connector: OktaConnector
) -> None:
    login, old = _user(okta, provider="ACTIVE_DIRECTORY")
    with pytest.raises(Unsupported, match="cloud_only"):
        connector.set_password(login, strong_password(), must_change=False)
    with pytest.raises(Unsupported):
        connector.force_change(login)
    assert okta.can_login(login, old)
    assert okta.count(rf"POST {USERS}.*") == 0


def test_directory_sourced_user_is_left_to_its_directory_and_sessions_still_end(
    okta: OktaServer,
) -> None:
    login, old = _user(okta, provider="LDAP")
    okta.sign_in(login, old)
    hybrid = OktaConnector("okta", okta.target(hybrid="directory_sourced"))
    try:
        answer = hybrid.set_password(login, strong_password(), must_change=True)
        assert "not written here" in answer and "directory" in answer
        assert okta.can_login(login, old)
        assert hybrid.revoke_sessions(login) == 1
    finally:
        hybrid.close()
    user = okta.user(login)
    assert user is not None and not user.sessions


def test_list_accounts_follows_the_link_header(okta: OktaServer, connector: OktaConnector) -> None:
    okta.max_page = 2
    logins = {_user(okta)[0] for _ in range(3)}
    listed = {record.account_id: record for record in connector.list_accounts()}
    assert logins <= listed.keys()
    pages = okta.count(r"GET /api/v1/users")
    assert pages == -(-len(listed) // 2) >= 2  # one request per page of two
    some = listed[next(iter(logins))]
    assert some.attributes["email"] == some.account_id and some.attributes["status"] == "ACTIVE"


def test_a_next_page_on_another_origin_is_refused(
    okta: OktaServer, connector: OktaConnector
) -> None:
    okta.inject(
        r"GET /api/v1/users",
        Answer(200, [], {"Link": '<https://evil.example/api/v1/users?after=x>; rel="next"'}),
    )
    with pytest.raises(ConnectorError, match="next page elsewhere"):
        list(connector.list_accounts())


def test_429_waits_until_x_rate_limit_reset_then_succeeds(
    okta: OktaServer, connector: OktaConnector
) -> None:
    login, _ = _user(okta)
    okta.inject(rf"DELETE {USERS}/sessions", rate_limited(1), times=2)
    assert connector.revoke_sessions(login) == 1
    assert okta.count(rf"DELETE {USERS}/sessions") == 3


def test_429_with_a_reset_beyond_the_bound_gives_up_at_once(
    okta: OktaServer, connector: OktaConnector
) -> None:
    login, _ = _user(okta)
    okta.inject(rf"DELETE {USERS}/sessions", rate_limited(60))
    with pytest.raises(Retryable, match="asking to wait") as caught:
        connector.revoke_sessions(login)
    assert "E0000047" in caught.value.answer
    assert okta.count(rf"DELETE {USERS}/sessions") == 1


def test_5xx_is_retried_despite_the_rate_limit_headers_then_fails_as_retryable(
    okta: OktaServer, connector: OktaConnector
) -> None:
    """Okta sends X-Rate-Limit-Reset on every answer: on a 5xx it is no wait."""
    login, old = _user(okta)
    unavailable = okta_error(503, "E0000009", "Internal Server Error")
    okta.inject(rf"POST {USERS}", unavailable, times=3)
    with pytest.raises(Retryable) as caught:
        connector.set_password(login, strong_password(), must_change=False)
    assert "E0000009" in caught.value.answer
    assert okta.count(rf"POST {USERS}") == 3  # one try and max_retries (2) more
    assert okta.can_login(login, old)


def test_oauth_service_app_gets_a_token_and_replaces_an_expired_one(
    okta: OktaServer, oauth_connector: OktaConnector
) -> None:
    login, _ = _user(okta)
    assert [(s.name, s.ok) for s in oauth_connector.test()] == [
        ("token", True),
        ("read users", True),
    ]
    issued = okta.tokens_issued
    assert oauth_connector.find_account(login) is not None
    assert okta.tokens_issued == issued  # cached
    okta.expire_tokens()
    new = strong_password()
    oauth_connector.set_password(login, new, must_change=False)
    assert okta.tokens_issued == issued + 1 and okta.can_login(login, new)


def test_a_key_okta_does_not_know_is_permission_denied(okta: OktaServer) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    stranger = OktaConnector("okta", okta.oauth_target(oauth={"private_key": {"value": pem}}))
    try:
        with pytest.raises(PermissionDenied) as caught:
            stranger.find_account("anyone@example.test")
        assert "invalid_client" in caught.value.answer and "PRIVATE KEY" not in str(caught.value)
        assert [(s.name, s.ok) for s in stranger.test()] == [("token", False)]
        assert not stranger.check_alive()
    finally:
        stranger.close()


def test_a_scope_not_granted_is_permission_denied(okta: OktaServer) -> None:
    asking = OktaConnector(
        "okta", okta.oauth_target(oauth={"scopes": ["okta.users.manage", "okta.groups.manage"]})
    )
    try:
        with pytest.raises(PermissionDenied) as caught:
            asking.find_account("anyone@example.test")
        assert (
            "invalid_scope" in caught.value.answer and "okta.groups.manage" in caught.value.answer
        )
    finally:
        asking.close()


def test_read_only_scope_cannot_write(okta: OktaServer) -> None:
    login, old = _user(okta)
    reader = OktaConnector("okta", okta.oauth_target(oauth={"scopes": ["okta.users.read"]}))
    try:
        assert reader.find_account(login) is not None
        with pytest.raises(PermissionDenied) as caught:
            reader.set_password(login, strong_password(), must_change=False)
        assert "E0000006" in caught.value.answer
    finally:
        reader.close()
    assert okta.can_login(login, old)


def test_wrong_api_token_is_permission_denied(okta: OktaServer) -> None:
    wrong = OktaConnector("okta", okta.target(api_token={"value": "00not-the-token"}))
    try:
        with pytest.raises(PermissionDenied) as caught:
            wrong.find_account("anyone@example.test")
        assert "E0000011" in caught.value.answer and "00not-the-token" not in str(caught.value)
        assert [(s.name, s.ok) for s in wrong.test()] == [("read users", False)]
        assert not wrong.check_alive()
    finally:
        wrong.close()


def test_config_refuses_clear_text_two_credentials_and_a_path() -> None:
    token = {"env": "CUSTOS_TEST_NO_SUCH_VARIABLE"}
    base = {"kind": "okta", "org_url": "https://example.okta.com", "api_token": token}
    with pytest.raises(ConfigError, match="clear text"):
        load_settings(None, targets={"o": {**base, "org_url": "http://example.okta.com"}})
    with pytest.raises(ConfigError, match="exactly one of api_token or oauth"):
        oauth = {"client_id": "0oa1", "private_key": token}
        load_settings(None, targets={"o": {**base, "oauth": oauth}})
    with pytest.raises(ConfigError, match="org_url"):
        load_settings(None, targets={"o": {**base, "org_url": "https://example.okta.com/api"}})
    settings = load_settings(None, targets={"o": base})
    unreadable = OktaConnector("o", settings.targets["o"])  # type: ignore[arg-type]
    try:
        steps = unreadable.test()
        assert not steps[0].ok and "CUSTOS_TEST_NO_SUCH_VARIABLE" in steps[0].detail
    finally:
        unreadable.close()


def test_a_request_off_the_description_is_answered_400_and_recorded(
    okta_server: OktaServer,
) -> None:
    """The validator is live: a password sent outside ``credentials`` (here by
    hand, never by the connector) is refused and recorded as a failure."""
    okta_server.clear()
    login, _ = _user(okta_server)
    user = okta_server.user(login)
    assert user is not None
    response = httpx.post(
        f"{okta_server.origin}/api/v1/users/{user.id}",
        json={"password": {"value": strong_password()}},
        headers={"Authorization": f"SSWS {okta_server.api_token}", "Accept": "application/json"},
        verify=ssl.create_default_context(cafile=okta_server.ca_file),
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == "E0000003"
    assert response.headers["X-Rate-Limit-Limit"]
    assert len(okta_server.failures) == 1 and "password" in okta_server.failures[0]
    okta_server.clear()
