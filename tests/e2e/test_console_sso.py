"""Single sign-on to the console through a real OpenID provider (oidc-provider on
loopback, tests/oidc_world.py): the authorization code flow with PKCE, state and
nonce, driven step by step by an HTTP client as a browser would; the operator is
matched by the username claim, created just in time or updated from the role
mapping, and refused with a page and a stable error id when the flow or the
person does not qualify (docs/console.md#single-sign-on)."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from ledger_json import LedgerEvent, ledger_event
from oidc_world import SsoSite, sign_in_at_provider
from sqlalchemy import select, update

from custos.domain.model import Operator, Role
from custos.store.tables import console_sso_attempts, ledger, operators

CONSOLE_COOKIE = "custos_console"


def _events(site: SsoSite, type_: str) -> list[LedgerEvent]:
    with site.world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == type_).order_by(ledger.c.seq)
        ).scalars()
        return [ledger_event(r) for r in rows]


def _operator(site: SsoSite, name: str) -> Operator | None:
    with site.world.svc.uow(read_only=True) as uow:
        return uow.operators.by_name(name)


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = state
    return parts._replace(query=urlencode(query)).geturl()


def _refusal(answer: httpx.Response, status: int, error_id: str) -> None:
    assert answer.status_code == status, answer.text
    assert f"Error id: {error_id}" in answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert CONSOLE_COOKIE not in answer.cookies


def _complete(site: SsoSite, browser: httpx.Client, sub: str) -> httpx.Response:
    """Sign ``sub`` in through the provider; Custos's answer to the callback."""
    return browser.get(sign_in_at_provider(browser, site, sub))


def test_first_sign_in_creates_the_operator_with_the_mapped_roles(sso_site: SsoSite) -> None:
    """R-26: the sign-in opens a new console session; R-36: it is in the ledger."""
    sso_site.provider.person("u-1001", "alice", "custos-helpdesk", "unrelated-group")
    with sso_site.browser() as browser:
        start = browser.get(f"{sso_site.origin}/console/sso/start?next=/")
        request = parse_qs(urlsplit(start.headers["location"]).query)
        # The browser is sent with state, nonce and an S256 PKCE challenge, never the verifier.
        assert request["code_challenge_method"] == ["S256"]
        assert len(request["code_challenge"][0]) == 43
        assert len(request["state"][0]) == 43 and len(request["nonce"][0]) == 43
        assert "code_verifier" not in request
        assert request["redirect_uri"] == [f"{sso_site.origin}/console/sso/callback"]
        assert "groups" in request["scope"][0].split()

        answer = _complete(sso_site, browser, "u-1001")
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/"
        session_cookie = answer.cookies.get(CONSOLE_COOKIE)
        assert session_cookie is not None and session_cookie.startswith("ccs_")
        home = browser.get(f"{sso_site.origin}/")
    assert home.status_code == 200, home.text
    assert "Signed in as alice" in home.text
    assert "<dd>oidc</dd>" in home.text

    alice = _operator(sso_site, "alice")
    assert alice is not None
    assert alice.roles == {Role.REQUESTER}
    assert alice.scope == {"staff"}
    assert alice.groups == {"custos-helpdesk"}  # only the mapping's groups are kept
    [created] = _events(sso_site, "admin:operator:created")
    assert created["actor"] == "system:oidc"
    assert created["data"] == {
        "operator": alice.id,
        "name": "alice",
        "roles": ["requester"],
        "scope": ["staff"],
        "groups": ["custos-helpdesk"],
        "source": "oidc",
        "issuer": sso_site.provider.issuer,
    }
    [signed_in] = _events(sso_site, "auth:operator:signed_in")
    assert signed_in["data"] == {"operator": alice.id, "method": "oidc"}


def test_a_second_sign_in_updates_roles_and_scope_from_the_groups(sso_site: SsoSite) -> None:
    sso_site.provider.person("u-1001", "alice", "custos-helpdesk")
    with sso_site.browser() as browser:
        assert _complete(sso_site, browser, "u-1001").status_code == 303
    # Unchanged groups change nothing.
    with sso_site.browser() as browser:
        assert _complete(sso_site, browser, "u-1001").status_code == 303
    assert _events(sso_site, "admin:operator:roles_changed") == []

    sso_site.provider.person("u-1001", "alice", "custos-helpdesk", "custos-approvers")
    with sso_site.browser() as browser:
        answer = _complete(sso_site, browser, "u-1001")
        assert answer.status_code == 303, answer.text
        home = browser.get(f"{sso_site.origin}/")
    assert "approver, requester" in home.text

    alice = _operator(sso_site, "alice")
    assert alice is not None
    assert alice.roles == {Role.REQUESTER, Role.APPROVER}
    assert alice.scope == {"staff", "finance"}
    [changed] = _events(sso_site, "admin:operator:roles_changed")
    assert changed["data"]["from"] == {
        "roles": ["requester"],
        "scope": ["staff"],
        "groups": ["custos-helpdesk"],
    }
    assert changed["data"]["to"] == {
        "roles": ["approver", "requester"],
        "scope": ["finance", "staff"],
        "groups": ["custos-approvers", "custos-helpdesk"],
    }
    assert len(_events(sso_site, "admin:operator:created")) == 1


def test_an_existing_local_operator_is_signed_in_and_takes_the_mapped_roles(
    sso_site: SsoSite,
) -> None:
    sso_site.world.operator("dora", Role.AUDITOR, scope=("*",))
    sso_site.provider.person("u-2002", "dora", "custos-admins")
    with sso_site.browser() as browser:
        assert _complete(sso_site, browser, "u-2002").status_code == 303
    dora = _operator(sso_site, "dora")
    assert dora is not None and dora.id == sso_site.world.operators["dora"].id
    assert dora.roles == {Role.ADMIN}
    assert _events(sso_site, "admin:operator:created")[-1]["data"]["name"] == "dora"


def test_a_disabled_operator_is_refused(sso_site: SsoSite) -> None:
    sso_site.world.operator("bob", Role.REQUESTER, scope=("staff",))
    with sso_site.world.svc.engine.begin() as conn:
        conn.execute(update(operators).where(operators.c.name == "bob").values(active=False))
    sso_site.provider.person("u-3003", "bob", "custos-admins")
    with sso_site.browser() as browser:
        answer = _complete(sso_site, browser, "u-3003")
    _refusal(answer, 403, "sso_operator_disabled")
    assert "Ask an administrator to enable your operator account." in answer.text
    bob = _operator(sso_site, "bob")
    assert bob is not None and bob.roles == {Role.REQUESTER}  # untouched
    [failed] = _events(sso_site, "auth:operator:sign_in_failed")
    assert failed["outcome"] == "denied"
    assert failed["data"]["error"] == "sso_operator_disabled"
    assert failed["data"]["name"] == "bob"
    assert _events(sso_site, "auth:operator:signed_in") == []


def test_a_person_whose_groups_map_to_no_role_is_refused(sso_site: SsoSite) -> None:
    sso_site.provider.person("u-4004", "carol", "finance-team")
    with sso_site.browser() as browser:
        answer = _complete(sso_site, browser, "u-4004")
    _refusal(answer, 403, "sso_no_role")
    assert "none of your groups gives a role in Custos" in answer.text
    assert _operator(sso_site, "carol") is None
    [failed] = _events(sso_site, "auth:operator:sign_in_failed")
    assert failed["data"]["error"] == "sso_no_role"
    assert _events(sso_site, "admin:operator:created") == []


def test_an_answer_with_another_state_is_refused(sso_site: SsoSite) -> None:
    """Login CSRF: an answer counts only for a state this browser was given."""
    sso_site.provider.person("u-1001", "alice", "custos-helpdesk")
    with sso_site.browser() as browser:
        callback = sign_in_at_provider(browser, sso_site, "u-1001")
        answer = browser.get(_with_state(callback, secrets.token_urlsafe(32)))
        _refusal(answer, 400, "sso_state_invalid")
        assert browser.get(_with_state(callback, "")).status_code == 400
    assert _operator(sso_site, "alice") is None
    # No ledger entry for a made-up state: anyone could send one.
    assert _events(sso_site, "auth:operator:sign_in_failed") == []


def test_an_answer_is_taken_once_and_only_in_the_browser_that_started(
    sso_site: SsoSite,
) -> None:
    sso_site.provider.person("u-1001", "alice", "custos-helpdesk")
    with sso_site.browser() as browser:
        callback = sign_in_at_provider(browser, sso_site, "u-1001")
    # Another browser (an attacker's link in the victim's browser) has no binding.
    with sso_site.browser() as other:
        _refusal(other.get(callback), 400, "sso_state_invalid")
    # ... and the state is used up: the right browser cannot use it any more either.
    with sso_site.browser() as browser:
        callback = sign_in_at_provider(browser, sso_site, "u-1001")
        assert browser.get(callback).status_code == 303
        _refusal(browser.get(callback), 400, "sso_state_invalid")
    with sso_site.world.svc.engine.connect() as conn:
        assert conn.execute(select(console_sso_attempts)).first() is None


def test_the_provider_ending_the_sign_in_is_a_clear_page(sso_site: SsoSite) -> None:
    with sso_site.browser() as browser:
        start = browser.get(f"{sso_site.origin}/console/sso/start")
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        answer = browser.get(
            f"{sso_site.origin}/console/sso/callback",
            params={
                "error": "access_denied",
                "error_description": "End-User aborted interaction",
                "state": state,
                "iss": sso_site.provider.issuer,
            },
        )
    _refusal(answer, 403, "sso_provider_error")
    assert "access_denied" in answer.text
    assert "End-User aborted" not in answer.text  # the provider's words are not echoed
    [failed] = _events(sso_site, "auth:operator:sign_in_failed")
    assert failed["data"]["error"] == "sso_provider_error"


def test_a_code_is_never_logged_nor_in_the_ledger(
    sso_site: SsoSite, capsys: pytest.CaptureFixture[str]
) -> None:
    """R-37: neither the code, the state nor a token reach a log line or the ledger."""
    sso_site.provider.person("u-4004", "carol", "finance-team")
    with sso_site.browser() as browser:
        callback = sign_in_at_provider(browser, sso_site, "u-4004")
        _refusal(browser.get(callback), 403, "sso_no_role")
    query = parse_qs(urlsplit(callback).query)
    code, state = query["code"][0], query["state"][0]
    with sso_site.world.svc.engine.connect() as conn:
        stored = " ".join(conn.execute(select(ledger.c.canonical)).scalars())
    assert code not in stored and state not in stored
    captured = capsys.readouterr()
    assert "console_sso_refused" in captured.err + captured.out
    assert code not in captured.err + captured.out
    assert state not in captured.err + captured.out


def test_an_answer_naming_another_issuer_is_refused(sso_site: SsoSite) -> None:
    """RFC 9207: a code sent back with another provider's issuer is not redeemed."""
    sso_site.provider.person("u-1001", "alice", "custos-helpdesk")
    with sso_site.browser() as browser:
        callback = sign_in_at_provider(browser, sso_site, "u-1001")
        parts = urlsplit(callback)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["iss"] == sso_site.provider.issuer
        query["iss"] = "https://evil.example"
        answer = browser.get(parts._replace(query=urlencode(query)).geturl())
    _refusal(answer, 403, "sso_provider_error")
    assert "another identity provider" in answer.text
    assert _operator(sso_site, "alice") is None


def test_a_flood_of_sign_in_starts_from_one_address_is_refused(sso_site: SsoSite) -> None:
    """R-20: each start stores an attempt for ten minutes, so one address may
    start only SSO_STARTS_PER_SOURCE.free of them before being refused with 429
    and Retry-After; the stored attempts stop growing."""
    from custos.proofing.rate_rules import SSO_STARTS_PER_SOURCE

    with sso_site.browser() as browser:
        for _ in range(SSO_STARTS_PER_SOURCE.free):
            assert browser.get(f"{sso_site.origin}/console/sso/start").status_code == 303
        refused = browser.get(f"{sso_site.origin}/console/sso/start")
    _refusal(refused, 429, "sso_rate_limited")
    assert int(refused.headers["retry-after"]) >= 1
    with sso_site.world.svc.engine.connect() as conn:
        stored = conn.execute(select(console_sso_attempts)).all()
    assert len(stored) == SSO_STARTS_PER_SOURCE.free
