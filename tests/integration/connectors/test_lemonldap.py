"""The LemonLDAP::NG connector against a real LemonLDAP::NG 2.x portal and
Manager (Debian's packages, started on loopback by ``servers.lemonldap``),
whose LDAP backend is the test slapd: users sign in through the portal over
HTTP, Custos ends their sessions and removes their second factors, and the
portal refuses the old cookie afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from recoveries import PASSWORD, self_service_recovery
from reissue_world import helpdesk_reissue, reissue_world
from servers.lemonldap import LemonLdapServer
from servers.slapd import SlapdServer, strong_password

from conftest import World, make_world
from custos.config import ConfigError, SecretSource, load_settings
from custos.connectors.errors import ConnectionFailed, ConnectorError, PermissionDenied
from custos.connectors.lemonldap import LemonLdapConnector
from custos.connectors.registry import ConnectorRegistry
from custos.connectors.spi import capabilities
from custos.domain.errors import NotAuthorized
from custos.domain.states import CaseState
from custos.policy.loader import DEFAULT_POLICY_PATH
from custos.service.enrolment import subject_sessions
from custos.service.recovery.queries import case_detail
from custos.store.tables import linked_accounts


def _user(slapd: SlapdServer) -> tuple[str, str]:
    uid, password = f"sso-{secrets.token_hex(4)}", strong_password()
    slapd.add_user(uid, password)
    return uid, password


@pytest.fixture
def connector(lemonldap_server: LemonLdapServer) -> Iterator[LemonLdapConnector]:
    made = LemonLdapConnector(
        "sso", lemonldap_server.target(session_kinds=["global", "offline", "persistent"])
    )
    yield made
    made.close()


def test_revoke_ends_every_sso_session_and_the_portal_refuses_the_old_cookie(
    lemonldap_server: LemonLdapServer, slapd_server: SlapdServer, connector: LemonLdapConnector
) -> None:
    """R-24, R-25: every session of the user at the SSO portal ends (two browsers
    here), the read-back sees none left, another user's session is untouched,
    and the user can sign in again."""
    uid, password = _user(slapd_server)
    other, other_password = _user(slapd_server)
    first = lemonldap_server.sign_in(uid, password)
    second = lemonldap_server.sign_in(uid, password)
    bystander = lemonldap_server.sign_in(other, other_password)
    assert first and second and bystander
    assert lemonldap_server.is_signed_in(first) and lemonldap_server.is_signed_in(second)
    assert lemonldap_server.sessions_of(uid) == 2

    ended = connector.revoke_sessions(uid)

    assert ended >= 2  # the two SSO sessions, and the persistent record configured here
    assert not lemonldap_server.is_signed_in(first)
    assert not lemonldap_server.is_signed_in(second)
    assert lemonldap_server.sessions_of(uid) == 0
    assert lemonldap_server.sessions_of(uid, "persistent") == 0
    assert lemonldap_server.is_signed_in(bystander)
    assert lemonldap_server.sessions_of(other) == 1
    again = lemonldap_server.sign_in(uid, password)
    assert again and lemonldap_server.is_signed_in(again)


def test_revoke_with_no_session_answers_zero(
    slapd_server: SlapdServer, connector: LemonLdapConnector
) -> None:
    uid, _ = _user(slapd_server)
    assert connector.revoke_sessions(uid) == 0


def test_default_kinds_keep_the_persistent_record(
    lemonldap_server: LemonLdapServer, slapd_server: SlapdServer
) -> None:
    """By default SSO and OIDC offline sessions end, and the persistent record
    (login history, consents, second factors) stays: removing second factors is
    ``reset_factors``, a separate act."""
    uid, password = _user(slapd_server)
    cookie = lemonldap_server.sign_in(uid, password)
    assert cookie
    lemonldap_server.add_second_factor(uid, "TOTP", "phone")
    connector = LemonLdapConnector("sso", lemonldap_server.target())
    try:
        assert connector.revoke_sessions(uid) == 1
        assert not lemonldap_server.is_signed_in(cookie)
        assert lemonldap_server.sessions_of(uid, "persistent") == 1
        assert connector.bound_factors(uid) == frozenset({"totp"})
    finally:
        connector.close()


def test_reset_factors_removes_every_second_factor_and_reads_back_none(
    lemonldap_server: LemonLdapServer, slapd_server: SlapdServer, connector: LemonLdapConnector
) -> None:
    """A reissue: every registered second factor goes, the Manager API reads
    back none, and another user's factor stays."""
    uid, _ = _user(slapd_server)
    other, _ = _user(slapd_server)
    lemonldap_server.add_second_factor(uid, "TOTP", "phone")
    lemonldap_server.add_second_factor(uid, "WebAuthn", "blue key")
    lemonldap_server.add_second_factor(other, "WebAuthn", "red key")
    assert connector.bound_factors(uid) == frozenset({"totp", "webauthn"})

    assert connector.reset_factors(uid) == 2

    assert connector.bound_factors(uid) == frozenset()
    assert connector.bound_factors(other) == frozenset({"webauthn"})
    assert connector.reset_factors(uid) == 0


def test_an_account_id_the_manager_would_read_as_a_pattern_is_refused(
    lemonldap_server: LemonLdapServer, slapd_server: SlapdServer, connector: LemonLdapConnector
) -> None:
    """``*`` would match every user's sessions: refused before anything is sent."""
    uid, password = _user(slapd_server)
    cookie = lemonldap_server.sign_in(uid, password)
    assert cookie
    for account in ("*", "sso-*", "a/24", "two words"):
        with pytest.raises(ConnectorError, match="pattern"):
            connector.revoke_sessions(account)
    assert lemonldap_server.is_signed_in(cookie)


def test_wrong_credentials_are_permission_denied(
    lemonldap_server: LemonLdapServer, slapd_server: SlapdServer
) -> None:
    uid, password = _user(slapd_server)
    cookie = lemonldap_server.sign_in(uid, password)
    assert cookie
    wrong = LemonLdapConnector(
        "sso", lemonldap_server.target(password=SecretSource(value=SecretStr("not-the-password")))
    )
    try:
        with pytest.raises(PermissionDenied) as caught:
            wrong.revoke_sessions(uid)
        assert "not-the-password" not in f"{caught.value} {caught.value.answer}"
        assert [step.ok for step in wrong.test()] == [False]
    finally:
        wrong.close()
    assert lemonldap_server.is_signed_in(cookie)


def test_untrusted_certificate_and_closed_port_are_connection_failures(
    lemonldap_server: LemonLdapServer, tmp_path: Path
) -> None:
    untrusted = LemonLdapConnector("sso", lemonldap_server.target(ca_file=None))
    closed = LemonLdapConnector("sso", lemonldap_server.target(url="https://127.0.0.1:9"))
    try:
        with pytest.raises(ConnectionFailed):
            untrusted.revoke_sessions("anyone")
        with pytest.raises(ConnectionFailed):
            closed.revoke_sessions("anyone")
        assert not closed.check_alive()
    finally:
        untrusted.close()
        closed.close()


def test_connection_test_passes_and_capabilities_are_the_containment_ones(
    connector: LemonLdapConnector,
) -> None:
    steps = connector.test()
    assert steps and all(step.ok for step in steps), steps
    assert connector.check_alive()
    assert capabilities(connector) == frozenset(
        {"revoke_sessions", "read_factors", "reset_factors", "test"}
    )


def test_clear_text_manager_url_is_refused_unless_loopback_and_allowed(tmp_path: Path) -> None:
    """R-34: the Basic credential never crosses the network in clear."""
    text = """
[targets.sso]
kind = "lemonldap"
url = "{url}"
username = "custos"
password = {{ value = "s3cret" }}
{extra}
"""
    path = tmp_path / "custos.toml"
    for url, extra in (
        ("http://manager.example.com", ""),
        ("http://manager.example.com", "allow_insecure_transport = true"),
        ("http://127.0.0.1:8081", ""),
    ):
        path.write_text(text.format(url=url, extra=extra))
        with pytest.raises(ConfigError, match="clear text"):
            load_settings(path)
    path.write_text(
        text.format(url="http://127.0.0.1:8081", extra="allow_insecure_transport = true")
    )
    assert load_settings(path).targets["sso"].kind == "lemonldap"


# -- a whole recovery ------------------------------------------------------------------
OPTIONAL_SESSIONS = (
    "    post_checks: [read_back, sessions_revoked]\n    optional_checks: [sessions_revoked]\n"
)
SESSIONS_REQUIRED = "    post_checks: [read_back, sessions_revoked]\n"


@pytest.fixture
def world(tmp_path: Path, lemonldap_server: LemonLdapServer) -> Iterator[World]:
    policy = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    assert OPTIONAL_SESSIONS in policy
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(policy.replace(OPTIONAL_SESSIONS, SESSIONS_REQUIRED), encoding="utf-8")
    made = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        policy_file=policy_file,
        targets={"directory": {"kind": "builtin"}, "sso": lemonldap_server.target()},
    )
    yield made
    made.svc.engine.dispose()


def _link(world: World, subject: str, target: str, account: str) -> None:
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.insert().values(target=target, account_id=account, subject_id=subject)
        )
        uow.commit()


def test_a_recovery_ends_the_subjects_sso_sessions_and_checks_it(
    world: World, lemonldap_server: LemonLdapServer, slapd_server: SlapdServer
) -> None:
    """R-24: a self-service recovery through the worker propagates the new
    password to the directory, ends the subject's LemonLDAP::NG sessions (the
    portal refuses the cookie taken before the recovery), and the case completes
    with each check recorded where it ran: read_back on the directory,
    sessions_revoked on both; no read-back is claimed on the portal, which holds
    no password."""
    uid, password = _user(slapd_server)
    world.subject(uid)
    _link(world, uid, "sso", uid)
    cookie = lemonldap_server.sign_in(uid, password)
    assert cookie and lemonldap_server.is_signed_in(cookie)

    case_id = self_service_recovery(world, uid)
    world.drain()

    detail: dict[str, Any] = case_detail(world.svc, None, case_id)
    assert detail["state"] == str(CaseState.COMPLETED), detail.get("outcome_reason")
    assert not lemonldap_server.is_signed_in(cookie)
    assert lemonldap_server.sessions_of(uid) == 0
    receipts = {(r["target"], r["state"]) for r in detail["receipts"]}
    assert receipts == {("directory", "succeeded"), ("sso", "succeeded")}
    sso = next(r for r in detail["receipts"] if r["target"] == "sso")
    assert sso["answer"] == "holds no password: 1 session(s) ended"
    checks = {(c["name"], c["target"], c["verdict"]) for c in detail["checks"]}
    assert checks == {
        ("read_back", "directory", "passed"),
        ("sessions_revoked", "directory", "passed"),
        ("sessions_revoked", "sso", "passed"),
    }


def test_a_recovery_whose_portal_is_down_needs_attention(
    tmp_path: Path, lemonldap_server: LemonLdapServer, slapd_server: SlapdServer
) -> None:
    """A portal Custos cannot reach does not pass as contained: its receipt
    fails after its attempts and the case needs a person, naming the target."""
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        targets={
            "directory": {"kind": "builtin"},
            "sso": lemonldap_server.target(url="https://127.0.0.1:9"),
        },
        worker={"max_attempts": 1},
    )
    try:
        uid, _ = _user(slapd_server)
        world.subject(uid)
        _link(world, uid, "sso", uid)
        case_id = self_service_recovery(world, uid)
        world.drain()
        detail = case_detail(world.svc, None, case_id)
        assert detail["state"] == str(CaseState.NEEDS_ATTENTION)
        sso = next(r for r in detail["receipts"] if r["target"] == "sso")
        assert sso["state"] == "failed"
        assert sso["error"] == "ConnectionFailed"
        assert "sso" in detail["outcome_reason"]
    finally:
        world.svc.engine.dispose()


def test_registry_builds_the_connector_from_configuration(
    lemonldap_server: LemonLdapServer,
) -> None:
    registry = ConnectorRegistry.from_config({"sso": lemonldap_server.target()}, engine=None)  # type: ignore[arg-type]
    assert registry.offers("sso", "revoke_sessions")
    assert not registry.offers("sso", "set_password")


# -- a privileged reissue ---------------------------------------------------------------
@pytest.fixture
def reissue(tmp_path: Path, lemonldap_server: LemonLdapServer) -> Iterator[World]:
    made = reissue_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        targets={"directory": {"kind": "builtin"}, "sso": lemonldap_server.target()},
    )
    yield made
    made.svc.engine.dispose()


def test_after_a_reissue_no_authenticator_and_no_session_remain(
    reissue: World, lemonldap_server: LemonLdapServer, slapd_server: SlapdServer
) -> None:
    """Issue 13, R-24: a privileged reissue through the help desk and the worker.
    Before: two portal sessions, a TOTP and a WebAuthn factor at the portal, a
    TOTP and saved codes in Custos, a Custos session. After: the directory has
    the new password, the portal refuses the old cookies and reads back no
    session and no factor, Custos has no authenticator and no session left and
    demands re-enrolment; each check says where it ran and what it saw."""
    world = reissue
    uid, password = _user(slapd_server)
    world.subject(uid, privileged=True, groups=("it-admins",), with_totp=True, codes=3)
    _link(world, uid, "sso", uid)
    cookies = [lemonldap_server.sign_in(uid, password) for _ in range(2)]
    assert all(cookies) and all(lemonldap_server.is_signed_in(c) for c in cookies if c)
    lemonldap_server.add_second_factor(uid, "TOTP", "phone")
    lemonldap_server.add_second_factor(uid, "WebAuthn", "blue key")
    world.directory.set_password(uid, "old-directory-pass-42", must_change=False)
    custos_session = subject_sessions.sign_in(
        world.svc, identifier=uid, password="old-directory-pass-42"
    ).token

    case_id = helpdesk_reissue(world, uid)
    world.drain()

    detail: dict[str, Any] = case_detail(world.svc, None, case_id)
    assert detail["state"] == str(CaseState.COMPLETED), detail.get("outcome_reason")
    assert world.directory.verify_password(uid, PASSWORD)
    # LemonLDAP::NG: read back through its Manager, and the portal's own answer.
    connector = LemonLdapConnector("sso", lemonldap_server.target())
    try:
        assert connector.bound_factors(uid) == frozenset()
    finally:
        connector.close()
    assert lemonldap_server.sessions_of(uid) == 0
    assert not any(lemonldap_server.is_signed_in(c) for c in cookies if c)
    sso = next(r for r in detail["receipts"] if r["target"] == "sso")
    assert (
        sso["answer"]
        == "holds no password: 2 session(s) ended; reissue: 2 second factor(s) removed"
    )
    # Custos: no authenticator, no session, re-enrolment demanded.
    with world.svc.uow() as uow:
        assert uow.authenticators.active(uid) == []
        assert uow.enrolments.totp(uid) is None
        assert uow.enrolments.remaining_recovery_codes(uid) == 0
        subject = uow.subjects.get(uid)
        assert subject is not None and subject.phishing_resistant_bind_due
    with pytest.raises(NotAuthorized):
        subject_sessions.current(world.svc, custos_session)
    checks = {(c["name"], c["target"]): c for c in detail["checks"]}
    assert checks[("factors_removed", "sso")]["verdict"] == "passed"
    assert "reports no second factor" in checks[("factors_removed", "sso")]["detail"]
    assert checks[("factors_removed", "custos")]["verdict"] == "passed"
    assert checks[("factors_removed", "directory")]["verdict"] == "not_applicable"
    assert checks[("sessions_revoked", "sso")]["verdict"] == "passed"
    assert checks[("sessions_revoked", "directory")]["verdict"] == "passed"
    types = [e["type"] for e in detail["timeline"]]
    assert "credential:authenticators:removed" in types
    again = subject_sessions.sign_in(world.svc, identifier=uid, password=PASSWORD)
    assert again.bind_required and not again.second_factor_due
