"""What the administration page says of a target's endpoint
(service/console/connector_summary.py): where it is, how it authenticates, and
where each secret is read from; never a secret itself (R-42)."""

from __future__ import annotations

from pathlib import Path

from pydantic import TypeAdapter

from custos.config import TargetConfig
from custos.service.console.connector_summary import endpoint_facts, without_userinfo

SECRET = "s3cret-Value-never-shown"
TARGET: TypeAdapter[TargetConfig] = TypeAdapter(TargetConfig)


def _shown(facts: tuple[tuple[str, str], ...]) -> str:
    return "\n".join(f"{label}: {value}" for label, value in facts)


def test_an_ldap_target_names_its_server_and_where_the_password_is_read_from() -> None:
    cfg = TARGET.validate_python(
        {
            "kind": "ldap",
            "url": "ldaps://ldap.example.org",
            "ca_file": "/etc/custos/ca.pem",
            "bind_dn": "cn=custos,ou=services,dc=example,dc=org",
            "bind_password": {"env": "CUSTOS_LDAP_PASSWORD"},
            "user_base": "ou=people,dc=example,dc=org",
        }
    )
    facts = dict(endpoint_facts(cfg))
    assert facts["URL"] == "ldaps://ldap.example.org"
    assert facts["Encryption"] == "LDAPS"
    assert facts["CA file"] == "/etc/custos/ca.pem"
    assert facts["Bind DN"] == "cn=custos,ou=services,dc=example,dc=org"
    assert facts["Bind password"] == (
        "not shown; read from environment variable CUSTOS_LDAP_PASSWORD"
    )
    assert facts["Timeout"] == "10 s"


def test_a_bind_password_written_in_the_configuration_is_not_shown() -> None:
    for kind in ("ldap", "active_directory"):
        cfg = TARGET.validate_python(
            {
                "kind": kind,
                "url": "ldap://dc.example.org",
                "start_tls": True,
                "bind_dn": "cn=custos",
                "bind_password": {"value": SECRET},
                "user_base": "dc=example,dc=org",
            }
        )
        shown = _shown(endpoint_facts(cfg))
        assert SECRET not in shown
        assert "Bind password: not shown; written in the configuration" in shown
        assert "Encryption: StartTLS" in shown


def test_a_scim_target_shows_neither_its_token_nor_its_client_secret(tmp_path: Path) -> None:
    bearer = TARGET.validate_python(
        {
            "kind": "scim",
            "base_url": "https://idp.example.org/scim/v2",
            "bearer_token": {"value": SECRET},
        }
    )
    shown = _shown(endpoint_facts(bearer))
    assert SECRET not in shown
    assert "Authentication: bearer token" in shown
    assert "Bearer token: not shown; written in the configuration" in shown

    secret_file = tmp_path / "client-secret"
    secret_file.write_text(SECRET)
    oauth = TARGET.validate_python(
        {
            "kind": "scim",
            "base_url": "https://idp.example.org/scim/v2",
            "oauth2": {
                "token_url": "https://idp.example.org/oauth/token",
                "client_id": "custos",
                "client_secret": {"file": str(secret_file)},
            },
        }
    )
    shown = _shown(endpoint_facts(oauth))
    assert SECRET not in shown
    assert "Client id: custos" in shown
    assert f"Client secret: not shown; read from file {secret_file}" in shown


def test_credentials_in_a_url_are_cut_out() -> None:
    assert without_userinfo(f"https://custos:{SECRET}@idp.example.org:8443/scim") == (
        "https://idp.example.org:8443/scim"
    )
    assert without_userinfo("ldaps://ldap.example.org") == "ldaps://ldap.example.org"
    cfg = TARGET.validate_python(
        {
            "kind": "scim",
            "base_url": f"https://custos:{SECRET}@idp.example.org/scim/v2",
            "bearer_token": {"env": "SCIM_TOKEN"},
        }
    )
    assert SECRET not in _shown(endpoint_facts(cfg))


def test_a_target_registered_without_configuration_says_so() -> None:
    assert endpoint_facts(None) == (
        ("Configuration", "registered by the application, not from the configuration"),
    )


def test_a_lemonldap_target_names_its_manager_and_hides_the_basic_password() -> None:
    """R-42: the Manager's Basic password is named by where it is read from."""
    cfg = TARGET.validate_python(
        {
            "kind": "lemonldap",
            "url": "https://llng-manager.example.org",
            "username": "custos",
            "password": {"value": SECRET},
        }
    )
    facts = dict(endpoint_facts(cfg))
    assert SECRET not in _shown(endpoint_facts(cfg))
    assert facts["Manager URL"] == "https://llng-manager.example.org"
    assert facts["Password"] == "not shown; written in the configuration"
    assert facts["Session kinds"] == "global, offline"


def test_an_entra_target_names_its_tenant_and_never_its_client_secret() -> None:
    cfg = TARGET.validate_python(
        {
            "kind": "entra",
            "tenant_id": "contoso.onmicrosoft.com",
            "client_id": "app-1",
            "client_secret": {"value": SECRET},
            "hybrid": "ad_synced",
        }
    )
    facts = dict(endpoint_facts(cfg))
    assert SECRET not in _shown(endpoint_facts(cfg))
    assert facts["Client secret"] == "not shown; written in the configuration"
    assert facts["Authority"] == "https://login.microsoftonline.com/contoso.onmicrosoft.com"
    assert facts["Graph URL"] == "https://graph.microsoft.com/v1.0"
    assert facts["Hybrid"] == "ad_synced"


def test_an_okta_target_names_its_org_and_never_its_token_or_key() -> None:
    token = TARGET.validate_python(
        {"kind": "okta", "org_url": "https://example.okta.com", "api_token": {"value": SECRET}}
    )
    facts = dict(endpoint_facts(token))
    assert SECRET not in _shown(endpoint_facts(token))
    assert facts["Org URL"] == "https://example.okta.com"
    assert facts["Authentication"] == "API token (SSWS)"
    assert facts["API token"] == "not shown; written in the configuration"
    assert facts["Revoke OAuth tokens"] == "yes"
    app = TARGET.validate_python(
        {
            "kind": "okta",
            "org_url": "https://example.okta.com",
            "oauth": {"client_id": "0oa1", "private_key": {"value": SECRET}},
            "hybrid": "directory_sourced",
        }
    )
    facts = dict(endpoint_facts(app))
    assert SECRET not in _shown(endpoint_facts(app))
    assert facts["Authentication"] == "OAuth 2.0 client credentials (private_key_jwt)"
    assert facts["Private key"] == "not shown; written in the configuration"
    assert facts["Scopes"] == "okta.users.manage okta.users.read"
    assert facts["Hybrid"] == "directory_sourced"
