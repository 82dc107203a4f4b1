"""Connected systems are reached encrypted: an LDAP target over ``ldap://``
without StartTLS, an Active Directory one likewise, and a SCIM target (or its
OAuth2 token URL) over ``http://`` are refused when the configuration loads,
naming the target, because the bind password, tokens and every new password
would cross the network in clear. ``allow_insecure_transport = true`` lifts it
for LDAP and SCIM, only for a server on this machine (R-34: no secret in clear)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from custos.config import ActiveDirectoryTarget, ConfigError, load_settings
from custos.connectors.active_directory import ActiveDirectoryConnector
from custos.connectors.errors import ConnectorError

LDAP = """
[targets.{name}]
kind = "ldap"
url = "{url}"
bind_dn = "cn=custos,dc=example,dc=com"
bind_password = {{ value = "s3cret" }}
user_base = "ou=people,dc=example,dc=com"
{extra}
"""
AD = """
[targets.{name}]
kind = "active_directory"
url = "{url}"
bind_dn = "CN=custos,DC=corp,DC=example,DC=com"
bind_password = {{ value = "s3cret" }}
user_base = "OU=Staff,DC=corp,DC=example,DC=com"
{extra}
"""
SCIM = """
[targets.{name}]
kind = "scim"
base_url = "{url}"
{auth}
{extra}
"""
BEARER = 'bearer_token = { value = "t0ken" }'


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CUSTOS_"):
            monkeypatch.delenv(name)


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "custos.toml"
    path.write_text(text)
    return load_settings(path)


def _refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert caught.value.error_id == "config_invalid"
    return caught.value.message


@pytest.mark.parametrize(
    "url",
    [
        "ldap://ldap.example.com",
        "ldap://127.0.0.1:389/",
        "ldaps://ldap1.example.com ldap://ldap2.example.com",  # a fallback in clear
    ],
)
def test_ldap_in_clear_is_refused_naming_the_target(tmp_path: Path, url: str) -> None:
    message = _refused(tmp_path, LDAP.format(name="corp-ldap", url=url, extra=""))
    assert "targets.corp-ldap" in message
    assert "clear text" in message and "start_tls = true" in message


@pytest.mark.parametrize(
    ("url", "extra"),
    [
        ("ldaps://ldap.example.com", ""),
        ("ldap://ldap.example.com", "start_tls = true"),
        ("ldap://127.0.0.1:3389/", "allow_insecure_transport = true"),
        ("ldap://127.8.9.10", "allow_insecure_transport = true"),
        ("ldap://localhost:3389", "allow_insecure_transport = true"),
        ("ldap://[::1]:3389", "allow_insecure_transport = true"),
    ],
)
def test_ldap_encrypted_or_explicitly_insecure_on_loopback_is_accepted(
    tmp_path: Path, url: str, extra: str
) -> None:
    _load(tmp_path, LDAP.format(name="corp-ldap", url=url, extra=extra))


@pytest.mark.parametrize(
    "url", ["ldap://ldap.example.com", "ldap://10.0.0.5", "ldap://localhost.example.com"]
)
def test_insecure_setting_is_refused_for_a_remote_host(tmp_path: Path, url: str) -> None:
    message = _refused(
        tmp_path, LDAP.format(name="corp-ldap", url=url, extra="allow_insecure_transport = true")
    )
    assert "targets.corp-ldap" in message and "loopback" in message


def test_active_directory_in_clear_is_refused_without_exception(tmp_path: Path) -> None:
    """AD resets passwords only over an encrypted connection: no insecure setting."""
    message = _refused(tmp_path, AD.format(name="corp-ad", url="ldap://127.0.0.1:389", extra=""))
    assert "targets.corp-ad" in message and "start_tls = true" in message
    refused = AD.format(
        name="corp-ad", url="ldap://127.0.0.1:389", extra="allow_insecure_transport = true"
    )
    assert "allow_insecure_transport" in _refused(tmp_path, refused)  # an unknown key
    _load(
        tmp_path, AD.format(name="corp-ad", url="ldap://dc.example.com", extra="start_tls = true")
    )
    _load(tmp_path, AD.format(name="corp-ad", url="ldaps://dc.example.com", extra=""))


def test_active_directory_connector_still_refuses_an_unchecked_target() -> None:
    """The connector's own check stays, for a target built without validation."""
    unchecked = ActiveDirectoryTarget.model_construct(
        kind="active_directory", url="ldap://dc.example.com", start_tls=False
    )
    with pytest.raises(ConnectorError, match="not encrypted"):
        ActiveDirectoryConnector("corp-ad", unchecked)


def test_scim_over_http_is_refused_naming_the_target(tmp_path: Path) -> None:
    message = _refused(
        tmp_path, SCIM.format(name="cloud", url="http://scim.example.net/v2", auth=BEARER, extra="")
    )
    assert "targets.cloud" in message and "use https://" in message
    oauth = (
        'oauth2 = { token_url = "http://idp.example.net/token", client_id = "custos", '
        'client_secret = { value = "x" } }'
    )
    message = _refused(
        tmp_path, SCIM.format(name="cloud", url="https://scim.example.net/v2", auth=oauth, extra="")
    )
    assert "targets.cloud" in message and "http://idp.example.net/token" in message


def test_scim_http_on_loopback_needs_the_explicit_setting(tmp_path: Path) -> None:
    local = SCIM.format(name="cloud", url="http://127.0.0.1:8081/v2", auth=BEARER, extra="")
    assert "allow_insecure_transport" in _refused(tmp_path, local)
    _load(tmp_path, local.replace("\n\n", "\nallow_insecure_transport = true\n"))
    remote = SCIM.format(
        name="cloud",
        url="http://scim.example.net/v2",
        auth=BEARER,
        extra="allow_insecure_transport = true",
    )
    assert "loopback" in _refused(tmp_path, remote)
    _load(
        tmp_path,
        SCIM.format(name="cloud", url="https://scim.example.net/v2", auth=BEARER, extra=""),
    )
