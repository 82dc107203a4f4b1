"""``[console.oidc]`` is checked when the configuration loads, with errors that
say what is wrong: an issuer in clear text (unless allowed and on this machine),
role names that do not exist, scopes without ``openid``, a rule without roles
or scope; ``CUSTOS_CONSOLE__OIDC__*`` overrides the file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from custos.config import ConfigError, Settings, load_settings
from custos.domain.model import Role

VALID = """
[console.oidc]
issuer = "{issuer}"
client_id = "custos"
client_secret = {{ env = "CUSTOS_TEST_OIDC_SECRET" }}
{extra}

[[console.oidc.role_mapping]]
group = "helpdesk"
roles = {roles}
scope = ["staff"]
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CUSTOS_"):
            monkeypatch.delenv(name)


def _load(
    tmp_path: Path,
    *,
    issuer: str = "https://login.example.com/realms/staff",
    roles: str = '["requester"]',
    extra: str = "",
) -> Settings:
    path = tmp_path / "custos.toml"
    path.write_text(VALID.format(issuer=issuer, roles=roles, extra=extra))
    return load_settings(path)


def _refused(tmp_path: Path, **kwargs: str) -> str:
    with pytest.raises(ConfigError) as refused:
        _load(tmp_path, **kwargs)
    return refused.value.message


def test_a_complete_section_loads_with_its_defaults(tmp_path: Path) -> None:
    oidc = _load(tmp_path).console.oidc
    assert oidc is not None
    assert oidc.scopes == ["openid", "profile", "email"]
    assert oidc.username_claim == "preferred_username"
    assert oidc.groups_claim == "groups"
    assert oidc.id_token_algorithms == ["RS256", "ES256"]
    assert oidc.role_mapping[0].roles == [Role.REQUESTER]
    assert oidc.client_secret.env == "CUSTOS_TEST_OIDC_SECRET"
    # The console's session settings live beside it.
    assert _load(tmp_path).console.idle_minutes == 15


def test_without_the_section_single_sign_on_is_off(tmp_path: Path) -> None:
    path = tmp_path / "custos.toml"
    path.write_text("")
    assert load_settings(path).console.oidc is None


def test_an_unknown_role_is_refused_naming_it_and_the_known_ones(tmp_path: Path) -> None:
    message = _refused(tmp_path, roles='["requester", "aprover"]')
    assert "console.oidc.role_mapping.0.roles" in message
    assert "unknown role 'aprover'" in message
    assert "requester, approver, executor, auditor, admin" in message


def test_an_issuer_in_clear_text_is_refused(tmp_path: Path) -> None:
    message = _refused(tmp_path, issuer="http://login.example.com")
    assert "clear text" in message and "https" in message


def test_clear_text_is_allowed_only_for_a_provider_on_this_machine(tmp_path: Path) -> None:
    allowed = _load(
        tmp_path, issuer="http://localhost:9000", extra="allow_insecure_transport = true"
    )
    assert allowed.console.oidc is not None
    message = _refused(
        tmp_path, issuer="http://login.example.com", extra="allow_insecure_transport = true"
    )
    assert "loopback" in message


def test_scopes_must_ask_for_openid(tmp_path: Path) -> None:
    message = _refused(tmp_path, extra='scopes = ["profile", "groups"]')
    assert "must include 'openid'" in message


def test_a_rule_needs_roles_and_an_issuer_no_query(tmp_path: Path) -> None:
    assert "roles" in _refused(tmp_path, roles="[]")
    assert "query" in _refused(tmp_path, issuer="https://login.example.com/?tenant=1")


def test_only_asymmetric_id_token_algorithms(tmp_path: Path) -> None:
    message = _refused(tmp_path, extra='id_token_algorithms = ["HS256"]')
    assert "id_token_algorithms" in message


def test_the_environment_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTOS_CONSOLE__OIDC__CLIENT_ID", "custos-prod")
    monkeypatch.setenv("CUSTOS_CONSOLE__OIDC__USERNAME_CLAIM", "email")
    oidc = _load(tmp_path).console.oidc
    assert oidc is not None
    assert oidc.client_id == "custos-prod"
    assert oidc.username_claim == "email"
    assert oidc.issuer == "https://login.example.com/realms/staff"
