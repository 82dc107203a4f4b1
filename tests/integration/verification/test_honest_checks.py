"""Post-recovery checks run against something real or send the case to
needs_attention saying why; "not applicable" passes only where the tier marks
the check optional; a required check no configured target can run is refused
when the policy is loaded. On the built-in directory and the real slapd."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from recoveries import helpdesk_recovery, self_service_recovery
from servers.slapd import SlapdServer
from sqlalchemy import select
from subject_helpers import sign_in, with_password
from typer.testing import CliRunner
from webauthn_authenticator import ORIGIN, SoftAuthenticator

from conftest import World, make_world
from custos.cli.main import app
from custos.domain.enrolment import AuthenticatorKind
from custos.domain.errors import PhishingResistantBindRequired
from custos.domain.events import EventType
from custos.domain.states import CaseState
from custos.policy.loader import DEFAULT_POLICY_PATH, PolicyError
from custos.service.enrolment import authenticators as enrolment
from custos.service.recovery.queries import case_detail
from custos.store.tables import ledger, linked_accounts

DEFAULT = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
OPTIONAL_SESSIONS = (
    "    post_checks: [read_back, sessions_revoked]\n    optional_checks: [sessions_revoked]\n"
)


def _policy(tmp_path: Path, name: str, replacement: str) -> Path:
    """The default policy with every non-privileged person tier's checks replaced."""
    assert OPTIONAL_SESSIONS in DEFAULT
    path = tmp_path / f"{name}.yaml"
    path.write_text(DEFAULT.replace(OPTIONAL_SESSIONS, replacement), encoding="utf-8")
    return path


MFA_REQUIRED = "    post_checks: [read_back, sessions_revoked, mfa_bound]\n"
SESSIONS_REQUIRED = "    post_checks: [read_back, sessions_revoked]\n"


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Any]:
    made: list[World] = []

    def world(policy: Path | None = None, **targets: Any) -> World:
        folder = tmp_path / f"w{len(made)}"
        folder.mkdir()
        settings: dict[str, Any] = {"targets": {"directory": {"kind": "builtin"}, **targets}}
        if policy is not None:
            settings["policy_file"] = policy
        w = make_world(f"sqlite:///{folder / 'custos.db'}", folder, **settings)
        made.append(w)
        return w

    yield world
    for w in made:
        w.svc.engine.dispose()


def _only_ldap(world: World, slapd: SlapdServer, subject: str) -> None:
    slapd.add_user(subject, "Initial-Password-123")
    with world.svc.uow() as uow:
        uow.conn.execute(
            linked_accounts.update()
            .where(linked_accounts.c.subject_id == subject)
            .values(target="ldap")
        )
        uow.commit()


def _bind_key(world: World, subject: str) -> None:
    with world.svc.uow() as uow:
        uow.authenticators.bind(
            subject, AuthenticatorKind.WEBAUTHN, label="blue key", by="test", now=world.clock.now()
        )
        uow.commit()


def _recover(world: World, subject: str) -> Any:
    case_id = self_service_recovery(world, subject)
    world.drain()
    return case_detail(world.svc, None, case_id)


def _check_events(world: World, case_id: str) -> list[dict[str, Any]]:
    with world.svc.uow() as uow:
        return [
            e
            for e in uow.ledger.for_case(case_id)
            if e["type"] in (EventType.CHECK_PASSED, EventType.CHECK_FAILED)
        ]


# -- mfa_bound -------------------------------------------------------------------------
def test_mfa_bound_without_a_second_factor_needs_attention_naming_every_system(
    build: Any, tmp_path: Path
) -> None:
    """R-6: a subject with no second factor under a tier requiring mfa_bound does
    not end "completed, checks passed": the case says which systems lack one, and
    the timeline and check records show where the check ran and what it saw."""
    world = build(_policy(tmp_path, "mfa", MFA_REQUIRED))
    world.subject("ana")
    detail = _recover(world, "ana")
    assert detail["state"] == str(CaseState.NEEDS_ATTENTION)
    assert "mfa_bound on custos: no webauthn authenticator bound" in detail["outcome_reason"]
    assert "Custos (bound: none)" in detail["outcome_reason"]
    assert "directory/ana (reports no factors)" in detail["outcome_reason"]
    mfa = [c for c in detail["checks"] if c["name"] == "mfa_bound"]
    assert [(c["target"], c["account_id"], c["verdict"], c["passed"]) for c in mfa] == [
        ("custos", "ana", "failed", False)
    ]
    events = [e for e in _check_events(world, detail["id"]) if e["data"]["check"] == "mfa_bound"]
    assert [(e["data"]["target"], e["data"]["verdict"]) for e in events] == [("custos", "failed")]
    assert "Custos (bound: none)" in events[0]["data"]["saw"]


def test_mfa_bound_with_a_webauthn_key_completes(build: Any, tmp_path: Path) -> None:
    """R-6: the same tier completes once a phishing-resistant key is bound in Custos."""
    world = build(_policy(tmp_path, "mfa", MFA_REQUIRED))
    world.subject("ben")
    _bind_key(world, "ben")
    detail = _recover(world, "ben")
    assert detail["state"] == str(CaseState.COMPLETED)
    mfa = [c for c in detail["checks"] if c["name"] == "mfa_bound"]
    assert mfa[0]["passed"] and mfa[0]["detail"].startswith(
        "webauthn authenticator 'blue key' bound in Custos"
    )


def test_mfa_bound_does_not_accept_totp_unless_the_tier_names_it(
    build: Any, tmp_path: Path
) -> None:
    """The default accepted kind is phishing-resistant; a TOTP alone fails."""
    world = build(_policy(tmp_path, "mfa", MFA_REQUIRED))
    world.subject("cy", with_totp=True)
    detail = _recover(world, "cy")
    assert detail["state"] == str(CaseState.NEEDS_ATTENTION)
    assert "Custos (bound: totp)" in detail["outcome_reason"]


# -- on the real slapd -------------------------------------------------------------------
def test_on_slapd_sessions_revoked_is_not_applicable_and_needs_attention_unless_optional(
    build: Any, tmp_path: Path, slapd_server: SlapdServer
) -> None:
    """R-24: slapd cannot end sessions. Required, the case goes to needs_attention
    saying so; optional (the default policy's person tiers), it completes and the
    check is recorded as not applicable, never as "passed"."""
    strict = build(_policy(tmp_path, "strict", SESSIONS_REQUIRED), ldap=slapd_server.target())
    strict.subject("dora")
    _only_ldap(strict, slapd_server, "dora")
    detail = _recover(strict, "dora")
    assert detail["state"] == str(CaseState.NEEDS_ATTENTION)
    assert (
        "sessions_revoked on ldap: not applicable: ldap offers no session revocation"
        in (detail["outcome_reason"])
    )
    assert "the tier requires this check" in detail["outcome_reason"]
    read_back = [c for c in detail["checks"] if c["name"] == "read_back"]
    assert read_back[0]["passed"] and read_back[0]["target"] == "ldap"

    lenient = build(ldap=slapd_server.target())
    lenient.subject("emil")
    _only_ldap(lenient, slapd_server, "emil")
    detail = _recover(lenient, "emil")
    assert detail["state"] == str(CaseState.COMPLETED)
    sessions = [c for c in detail["checks"] if c["name"] == "sessions_revoked"]
    assert [(c["target"], c["verdict"], c["passed"]) for c in sessions] == [
        ("ldap", "not_applicable", True)
    ]
    assert "optional in this tier" in sessions[0]["detail"]
    completed = [e for e in detail["timeline"] if e["data"].get("to") == "completed"]
    assert "not applicable, optional: sessions_revoked" in completed[0]["reason"]


def test_on_slapd_mfa_bound_needs_attention_without_a_key_and_completes_with_one(
    build: Any, tmp_path: Path, slapd_server: SlapdServer
) -> None:
    """R-6 on a real directory: slapd reports no factors, so only Custos's own
    authenticators can satisfy mfa_bound."""
    mfa_sessions_optional = MFA_REQUIRED + "    optional_checks: [sessions_revoked]\n"
    world = build(_policy(tmp_path, "mfa", mfa_sessions_optional), ldap=slapd_server.target())
    for name in ("fay", "gus"):
        world.subject(name)
        _only_ldap(world, slapd_server, name)
    _bind_key(world, "gus")
    fay = _recover(world, "fay")
    assert fay["state"] == str(CaseState.NEEDS_ATTENTION)
    assert "ldap/fay (reports no factors)" in fay["outcome_reason"]
    gus = _recover(world, "gus")
    assert gus["state"] == str(CaseState.COMPLETED)


# -- refusing unrunnable checks ------------------------------------------------------------
def _config(tmp_path: Path, targets: str) -> Path:
    path = tmp_path / "custos.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n{targets}', encoding="utf-8")
    return path


LDAP_ONLY = """
[targets.ldap]
kind = "ldap"
url = "ldap://127.0.0.1:1"
allow_insecure_transport = true
bind_dn = "cn=custos,dc=example,dc=org"
bind_password = {value = "not-used-here"}
user_base = "ou=people,dc=example,dc=org"
"""


def test_policy_check_refuses_a_required_check_no_configured_target_can_run(
    tmp_path: Path,
) -> None:
    """``policy check`` names the tier and the check when no target offers what it
    needs (slapd-like targets end no sessions); the same file passes when the
    configured targets can run it, and when the tier marks the check optional."""
    runner = CliRunner()
    ldap_only = _config(tmp_path, LDAP_ONLY)
    refused = runner.invoke(
        app, ["--config", str(ldap_only), "policy", "check", str(DEFAULT_POLICY_PATH)]
    )
    assert refused.exit_code == 1
    assert "tier 'privileged' requires check 'sessions_revoked'" in refused.output
    assert "no configured target can run" in refused.output
    assert "tier 'standard'" not in refused.output  # optional there

    with_builtin = _config(tmp_path, '[targets.directory]\nkind = "builtin"\n' + LDAP_ONLY)
    accepted = runner.invoke(
        app, ["--config", str(with_builtin), "policy", "check", str(DEFAULT_POLICY_PATH)]
    )
    assert accepted.exit_code == 0, accepted.output
    assert "every required check can run" in accepted.output

    switched_off = _config(
        tmp_path,
        '[targets.directory]\nkind = "builtin"\ndisabled_capabilities = ["revoke_sessions"]\n',
    )
    strict = _policy(tmp_path, "strict", SESSIONS_REQUIRED)
    refused = runner.invoke(app, ["--config", str(switched_off), "policy", "check", str(strict)])
    assert refused.exit_code == 1
    assert "tier 'standard' requires check 'sessions_revoked'" in refused.output


def test_bootstrap_refuses_a_policy_whose_required_check_no_target_can_run(
    tmp_path: Path,
) -> None:
    """Loading the policy with the configured targets (serve, worker, CLI) fails
    the same way, so a deployment cannot run with a check that never runs."""
    target = {
        "kind": "ldap",
        "url": "ldap://127.0.0.1:1",
        "allow_insecure_transport": True,
        "bind_dn": "cn=custos,dc=example,dc=org",
        "bind_password": {"value": "not-used-here"},
        "user_base": "ou=people,dc=example,dc=org",
    }
    with pytest.raises(PolicyError) as raised:
        make_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, targets={"ldap": target})
    assert "tier 'privileged' requires check 'sessions_revoked'" in str(raised.value)


# -- R-45 --------------------------------------------------------------------------------
def test_after_a_helpdesk_recovery_the_next_sign_in_must_bind_a_security_key(
    build: Any,
) -> None:
    """R-45: once an agent-assisted recovery completes, the subject's session may
    only bind a phishing-resistant authenticator (error id
    phishing_resistant_bind_required); binding WebAuthn lifts the demand."""
    world = build()
    case_id = helpdesk_recovery(world, "hugo")
    world.drain()
    assert case_detail(world.svc, None, case_id)["state"] == str(CaseState.COMPLETED)
    with_password(world, "hugo")
    session = sign_in(world, "hugo")
    assert session.bind_required
    with pytest.raises(PhishingResistantBindRequired) as refused:
        enrolment.methods(world.svc, token=session.token)
    assert refused.value.error_id == "phishing_resistant_bind_required"

    key = SoftAuthenticator()
    options = enrolment.begin_webauthn(world.svc, token=session.token)
    enrolment.finish_webauthn(
        world.svc,
        token=session.token,
        response=json.dumps(key.register(options, origin=ORIGIN)),
        label="new key",
    )
    assert [a.label for a in enrolment.methods(world.svc, token=session.token)][-1] == "new key"
    with world.svc.uow() as uow:
        subject = uow.subjects.get("hugo")
        types = list(
            uow.conn.execute(select(ledger.c.type).where(ledger.c.subject_id == "hugo")).scalars()
        )
    assert subject is not None and not subject.phishing_resistant_bind_due
    assert str(EventType.BIND_REQUIRED) in types
    assert str(EventType.BIND_SATISFIED) in types


def test_a_self_service_recovery_does_not_demand_a_bind(build: Any) -> None:
    """Only agent-assisted recoveries set the R-45 demand."""
    world = build()
    world.subject("ida")
    _recover(world, "ida")
    with world.svc.uow() as uow:
        subject = uow.subjects.get("ida")
    assert subject is not None and not subject.phishing_resistant_bind_due


OKTA_ONLY = """
[targets.okta]
kind = "okta"
org_url = "https://example.okta.com"
api_token = {env = "CUSTOS_TEST_NO_SUCH_VARIABLE"}
"""


def test_policy_check_counts_what_an_okta_target_can_run(tmp_path: Path) -> None:
    """An Okta target ends sessions and reads password changes, so the default
    policy's required checks can all run with it alone (judged from the
    configuration, without connecting); with its ``revoke_sessions`` switched off
    the privileged tier's ``sessions_revoked`` is refused again."""
    runner = CliRunner()
    okta_only = _config(tmp_path, OKTA_ONLY)
    accepted = runner.invoke(
        app, ["--config", str(okta_only), "policy", "check", str(DEFAULT_POLICY_PATH)]
    )
    assert accepted.exit_code == 0, accepted.output
    assert "every required check can run" in accepted.output

    switched_off = _config(tmp_path, OKTA_ONLY + 'disabled_capabilities = ["revoke_sessions"]\n')
    refused = runner.invoke(
        app, ["--config", str(switched_off), "policy", "check", str(DEFAULT_POLICY_PATH)]
    )
    assert refused.exit_code == 1
    assert "tier 'privileged' requires check 'sessions_revoked'" in refused.output
