"""The Entra ID connector against the local Graph server (servers.graph), which
validates every request against schemas written from Microsoft's published
descriptions and records any that does not match: each test ends asserting
there was none. What these tests prove, and what they cannot, is in
docs/connectors.md#what-the-cloud-tests-prove."""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterator

import httpx
import pytest
from servers.cloud_base import Answer
from servers.graph import GraphServer, strong_password

from custos.config import ConfigError, load_settings
from custos.connectors.entra import EntraConnector
from custos.connectors.errors import (
    PasswordPolicy,
    PermissionDenied,
    Retryable,
    UnknownAccount,
    Unsupported,
)
from custos.connectors.spi import capabilities


@pytest.fixture
def graph(graph_server: GraphServer) -> Iterator[GraphServer]:
    graph_server.clear()
    yield graph_server
    failures = list(graph_server.failures)
    graph_server.clear()
    assert failures == [], failures


@pytest.fixture
def entra(graph: GraphServer) -> Iterator[EntraConnector]:
    connector = EntraConnector("entra", graph.target())
    yield connector
    connector.close()


def _user(graph: GraphServer, *, synced: bool = False) -> tuple[str, str]:
    upn, password = f"u-{secrets.token_hex(4)}@contoso.test", strong_password()
    graph.add_user(upn, password, synced=synced)
    return upn, password


def test_capabilities_are_what_graph_offers(entra: EntraConnector) -> None:
    assert capabilities(entra) == {
        "set_password",
        "force_change",
        "revoke_sessions",
        "read_factors",
        "reset_factors",
        "temporary_access_pass",
        "read_password_changed",
        "find_account",
        "test",
    }


def test_set_password_with_must_change_and_read_back(
    graph: GraphServer, entra: EntraConnector
) -> None:
    upn, old = _user(graph)
    new = strong_password()
    answer = entra.set_password(upn, new, must_change=True)
    assert new not in answer and "change required" in answer
    found = entra.find_account(upn)
    assert found is not None and found.must_change and found.enabled
    assert graph.can_login(upn, new) and not graph.can_login(upn, old)
    assert entra.password_changed_at(upn) == found.password_changed_at


def test_find_by_upn_ignores_case_and_never_takes_an_object_id(
    graph: GraphServer, entra: EntraConnector
) -> None:
    upn, _ = _user(graph)
    assert entra.find_account(upn.upper()) is not None
    user = graph.user(upn)
    assert user is not None
    assert entra.find_account(user.id) is None  # Graph finds ids too; Custos names UPNs
    assert entra.find_account("a/b@contoso.test") is None


def test_refused_password_is_password_policy_without_the_secret(
    graph: GraphServer, entra: EntraConnector
) -> None:
    upn, old = _user(graph)
    with pytest.raises(PasswordPolicy) as caught:
        entra.set_password(upn, "short-1A", must_change=False)
    assert "short-1A" not in caught.value.answer and "complexity" in caught.value.answer
    assert graph.can_login(upn, old)


def test_revoke_sessions_calls_revoke_sign_in_sessions(
    graph: GraphServer, entra: EntraConnector
) -> None:
    upn, _ = _user(graph)
    assert entra.revoke_sessions(upn) == 1
    user = graph.user(upn)
    assert user is not None and user.revocations == 1
    with pytest.raises(UnknownAccount):
        entra.revoke_sessions("nobody@contoso.test")


def test_methods_are_listed_mapped_and_deleted_by_type(
    graph: GraphServer, entra: EntraConnector
) -> None:
    """R-6: a FIDO2 key reads as webauthn, a software OATH token as totp; reset
    deletes each through its type's own endpoint and never the password."""
    upn, _ = _user(graph)
    user = graph.user(upn)
    assert user is not None
    user.methods = {
        "k1": "#microsoft.graph.fido2AuthenticationMethod",
        "t1": "#microsoft.graph.softwareOathAuthenticationMethod",
        "p1": "#microsoft.graph.phoneAuthenticationMethod",
    }
    assert entra.bound_factors(upn) == {"webauthn", "totp", "phone"}
    assert entra.delete_authentication_methods(upn) == 3
    assert graph.count(r"DELETE /v1\.0/users/[^/]+/authentication/fido2Methods/k1") == 1
    assert graph.count(r"DELETE /v1\.0/users/[^/]+/authentication/softwareOathMethods/t1") == 1
    assert entra.bound_factors(upn) == frozenset()
    kinds = [m.odata_type for m in entra.authentication_methods(upn)]
    assert kinds == ["#microsoft.graph.passwordAuthenticationMethod"]


def test_reset_factors_removes_every_method_and_a_pass_and_reads_back_none(
    graph: GraphServer, entra: EntraConnector
) -> None:
    """A reissue: every method but the password goes, a Temporary Access Pass
    too, and the read-back lists none left; the count is what was removed."""
    upn, _ = _user(graph)
    user = graph.user(upn)
    assert user is not None
    user.methods = {
        "k1": "#microsoft.graph.fido2AuthenticationMethod",
        "a1": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    }
    entra.issue_temporary_access_pass(upn)
    assert entra.reset_factors(upn) == 3
    kinds = [m.odata_type for m in entra.authentication_methods(upn)]
    assert kinds == ["#microsoft.graph.passwordAuthenticationMethod"]
    assert entra.reset_factors(upn) == 0


def test_temporary_access_pass_is_issued_once_and_deleted(
    graph: GraphServer, entra: EntraConnector
) -> None:
    upn, _ = _user(graph)
    first = entra.issue_temporary_access_pass(upn)
    second = entra.issue_temporary_access_pass(upn, usable_once=False)
    assert first.secret and second.secret and first.method_id != second.method_id
    assert second.lifetime_minutes == 60 and not second.usable_once
    assert entra.bound_factors(upn) == frozenset()  # a pass is not a second factor
    assert entra.delete_temporary_access_passes(upn) == 1  # the second replaced the first
    assert entra.delete_temporary_access_passes(upn) == 0


def test_synced_user_in_cloud_only_tenant_is_refused_unwritten(
    graph: GraphServer, entra: EntraConnector
) -> None:
    upn, old = _user(graph, synced=True)
    with pytest.raises(Unsupported, match="cloud_only"):
        entra.set_password(upn, strong_password(), must_change=False)
    assert graph.can_login(upn, old)
    assert graph.count(r"PATCH .*") == 0


def test_synced_user_with_ad_synced_is_left_to_ad_and_sessions_still_end(
    graph: GraphServer,
) -> None:
    upn, old = _user(graph, synced=True)
    cloud_upn, _ = _user(graph)
    entra = EntraConnector("entra", graph.target(hybrid="ad_synced"))
    try:
        answer = entra.set_password(upn, strong_password(), must_change=False)
        assert "synced from on-premises AD" in answer and "not written" in answer
        assert graph.can_login(upn, old)
        assert entra.revoke_sessions(upn) == 1
        with pytest.raises(Unsupported):
            entra.force_change(upn)
        new = strong_password()
        entra.set_password(cloud_upn, new, must_change=False)  # cloud users are written
        assert graph.can_login(cloud_upn, new)
    finally:
        entra.close()


def test_429_retry_after_is_honoured_then_the_request_succeeds(
    graph: GraphServer, entra: EntraConnector
) -> None:
    upn, _ = _user(graph)
    throttled = Answer(
        429,
        {"error": {"code": "TooManyRequests", "message": "Please retry after 1 seconds."}},
        {"Retry-After": "1"},
    )
    graph.inject(r"POST /v1\.0/users/[^/]+/revokeSignInSessions", throttled, times=2)
    assert entra.revoke_sessions(upn) == 1
    assert graph.count(r"POST /v1\.0/users/[^/]+/revokeSignInSessions") == 3


def test_429_asking_longer_than_the_bound_gives_up_at_once(
    graph: GraphServer, entra: EntraConnector
) -> None:
    upn, _ = _user(graph)
    throttled = Answer(
        429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, {"Retry-After": "120"}
    )
    graph.inject(r"POST /v1\.0/users/[^/]+/revokeSignInSessions", throttled)
    with pytest.raises(Retryable, match="wait 120s"):
        entra.revoke_sessions(upn)
    assert graph.count(r"POST /v1\.0/users/[^/]+/revokeSignInSessions") == 1


def test_5xx_is_retried_then_fails_as_retryable(graph: GraphServer, entra: EntraConnector) -> None:
    upn, old = _user(graph)
    unavailable = Answer(
        503, {"error": {"code": "serviceNotAvailable", "message": "Service unavailable"}}
    )
    graph.inject(r"PATCH /v1\.0/users/.*", unavailable, times=3)
    with pytest.raises(Retryable) as caught:
        entra.set_password(upn, strong_password(), must_change=False)
    assert "serviceNotAvailable" in caught.value.answer
    assert graph.count(r"PATCH /v1\.0/users/.*") == 3  # one try and max_retries (2) more
    assert graph.can_login(upn, old)


def test_expired_token_is_replaced_once(graph: GraphServer, entra: EntraConnector) -> None:
    upn, _ = _user(graph)
    assert entra.find_account(upn) is not None
    issued = graph.tokens_issued
    graph.expire_tokens()
    assert entra.find_account(upn) is not None
    assert graph.tokens_issued == issued + 1


def test_wrong_client_secret_is_permission_denied(graph: GraphServer) -> None:
    entra = EntraConnector("entra", graph.target(client_secret={"value": "not-the-secret"}))
    try:
        with pytest.raises(PermissionDenied) as caught:
            entra.find_account("anyone@contoso.test")
        assert "invalid_client" in caught.value.answer and "not-the-secret" not in str(caught.value)
        steps = entra.test()
        assert [(s.name, s.ok) for s in steps] == [("token", False)]
        assert not entra.check_alive()
    finally:
        entra.close()


def test_connection_test_names_each_step(entra: EntraConnector) -> None:
    assert [(s.name, s.ok) for s in entra.test()] == [("token", True), ("read users", True)]


def test_config_refuses_clear_text_and_a_missing_secret(graph: GraphServer) -> None:
    base = {
        "kind": "entra",
        "tenant_id": "t",
        "client_id": "c",
        "client_secret": {"env": "CUSTOS_TEST_NO_SUCH_VARIABLE"},
    }
    with pytest.raises(ConfigError, match="clear text"):
        load_settings(None, targets={"e": {**base, "graph_url": "http://graph.example.com/v1.0"}})
    with pytest.raises(ConfigError, match="authority_host"):
        load_settings(None, targets={"e": {**base, "authority_host": "http://127.0.0.1:1"}})
    settings = load_settings(None, targets={"e": base})
    entra = EntraConnector("e", settings.targets["e"])  # type: ignore[arg-type]
    try:
        steps = entra.test()
        assert not steps[0].ok and "CUSTOS_TEST_NO_SUCH_VARIABLE" in steps[0].detail
    finally:
        entra.close()


def test_a_request_off_the_description_is_answered_400_and_recorded(
    graph_server: GraphServer,
) -> None:
    """The validator is live: an unknown passwordProfile field (here sent by hand,
    never by the connector) is refused and recorded as a failure."""
    graph_server.clear()
    upn, _ = _user(graph_server)
    user = graph_server.user(upn)
    assert user is not None
    entra = EntraConnector("entra", graph_server.target())
    try:
        token = entra._tokens.authorization(False)
    finally:
        entra.close()
    response = httpx.patch(
        f"{graph_server.graph_url}/users/{user.id}",
        json={"passwordProfile": {"password": strong_password(), "mustChange": True}},
        headers={"Authorization": token},
        verify=ssl.create_default_context(cafile=graph_server.ca_file),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Request_BadRequest"
    assert len(graph_server.failures) == 1 and "mustChange" in graph_server.failures[0]
    graph_server.clear()
