"""The configured targets for the administration page: kind, where each one
is (never a secret: a password or token is named by where it is read from,
never shown) and what its connector offers (docs/console.md#administration)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from custos.config import (
    ActiveDirectoryTarget,
    BuiltinTarget,
    EntraTarget,
    LdapTarget,
    LemonLdapTarget,
    OktaTarget,
    ScimTarget,
    SecretSource,
    TargetConfig,
)
from custos.connectors.spi import OPERATIONS, TestOp
from custos.service.ports import Services

#: What each connector operation (connectors.spi.OPERATIONS) lets Custos do.
CAPABILITY_LABELS: dict[str, str] = {
    "set_password": "set a password",
    "force_change": "require a new password at next logon",
    "revoke_sessions": "end the account's sessions",
    "read_factors": "read the second factors bound there",
    "reset_factors": "remove the second factors registered there",
    "read_password_changed": "read when the password last changed",
    "read_password_changed_many": "read many password-change times at once",
    "prepare_writes": "look accounts up in batches before writing",
    "find_account": "find an account",
    "list_accounts": "list accounts (subjects sync)",
    "unlock": "unlock an account",
    "enable": "enable or disable an account",
    "authenticate": "check a subject's own password (sign-in)",
    "test": "connection test",
}


@dataclass(frozen=True, slots=True)
class Capability:
    name: str
    label: str


@dataclass(frozen=True, slots=True)
class TargetSummary:
    name: str
    kind: str
    #: (label, value) pairs saying where the target is; no secret among them.
    endpoint: tuple[tuple[str, str], ...]
    offered: tuple[Capability, ...]
    switched_off: tuple[Capability, ...]
    testable: bool


def target_summaries(svc: Services) -> list[TargetSummary]:
    """Every target of the registry, by name."""
    found = []
    for name in svc.registry.names():
        target = svc.registry.get(name)
        cfg = svc.settings.targets.get(name)
        found.append(
            TargetSummary(
                name=name,
                kind=target.kind,
                endpoint=endpoint_facts(cfg),
                offered=_capabilities(target.capabilities),
                switched_off=_capabilities(target.disabled),
                testable=isinstance(target.connector, TestOp),
            )
        )
    return found


def endpoint_facts(cfg: TargetConfig | None) -> tuple[tuple[str, str], ...]:
    """Where a target is, from its configuration, without any secret."""
    if cfg is None:
        return (("Configuration", "registered by the application, not from the configuration"),)
    if isinstance(cfg, BuiltinTarget):
        return (("Accounts", "in the Custos database (built-in directory)"),)
    if isinstance(cfg, LdapTarget | ActiveDirectoryTarget):
        facts = [
            ("URL", " ".join(without_userinfo(u) for u in cfg.url.split())),
            ("Encryption", _ldap_tls(cfg)),
            ("Bind DN", cfg.bind_dn),
            ("Bind password", _secret_source(cfg.bind_password)),
            ("User base", cfg.user_base),
            ("Account attribute", cfg.account_attribute),
        ]
        if cfg.ca_file:
            facts.insert(2, ("CA file", str(cfg.ca_file)))
        facts.append(("Timeout", f"{cfg.timeout_s:g} s"))
        return tuple(facts)
    if isinstance(cfg, LemonLdapTarget):
        return _lemonldap_facts(cfg)
    if isinstance(cfg, EntraTarget):
        return _entra_facts(cfg)
    if isinstance(cfg, OktaTarget):
        return _okta_facts(cfg)
    return _scim_facts(cfg)


def _lemonldap_facts(cfg: LemonLdapTarget) -> tuple[tuple[str, str], ...]:
    facts = [
        ("Manager URL", without_userinfo(cfg.url)),
        ("Authentication", "HTTP Basic"),
        ("User", cfg.username),
        ("Password", _secret_source(cfg.password)),
        ("Session kinds", ", ".join(cfg.session_kinds)),
    ]
    if cfg.ca_file:
        facts.append(("CA file", str(cfg.ca_file)))
    if cfg.allow_insecure_transport:
        facts.append(("Encryption", "plain http allowed (loopback only)"))
    facts.append(("Timeout", f"{cfg.timeout_s:g} s"))
    return tuple(facts)


def without_userinfo(url: str) -> str:
    """``url`` without a ``user:password@`` part, which could hold a secret."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _scim_facts(cfg: ScimTarget) -> tuple[tuple[str, str], ...]:
    facts = [("Base URL", without_userinfo(cfg.base_url))]
    if cfg.oauth2 is not None:
        facts += [
            ("Authentication", "OAuth 2.0 client credentials"),
            ("Token URL", without_userinfo(cfg.oauth2.token_url)),
            ("Client id", cfg.oauth2.client_id),
            ("Client secret", _secret_source(cfg.oauth2.client_secret)),
        ]
    elif cfg.bearer_token is not None:
        facts += [
            ("Authentication", "bearer token"),
            ("Bearer token", _secret_source(cfg.bearer_token)),
        ]
    if cfg.ca_file:
        facts.append(("CA file", str(cfg.ca_file)))
    if cfg.allow_insecure_transport:
        facts.append(("Encryption", "plain http allowed (loopback only)"))
    facts.append(("Timeout", f"{cfg.timeout_s:g} s"))
    return tuple(facts)


def _entra_facts(cfg: EntraTarget) -> tuple[tuple[str, str], ...]:
    facts = [
        ("Graph URL", without_userinfo(cfg.graph_url)),
        ("Authority", without_userinfo(cfg.authority)),
        ("Authentication", "OAuth 2.0 client credentials (MSAL)"),
        ("Client id", cfg.client_id),
        ("Client secret", _secret_source(cfg.client_secret)),
        ("Hybrid", cfg.hybrid),
    ]
    if cfg.ca_file:
        facts.append(("CA file", str(cfg.ca_file)))
    if cfg.allow_insecure_transport:
        facts.append(("Encryption", "plain http allowed (loopback only)"))
    facts.append(("Timeout", f"{cfg.timeout_s:g} s"))
    return tuple(facts)


def _okta_facts(cfg: OktaTarget) -> tuple[tuple[str, str], ...]:
    facts = [("Org URL", without_userinfo(cfg.org_url))]
    if cfg.oauth is not None:
        facts += [
            ("Authentication", "OAuth 2.0 client credentials (private_key_jwt)"),
            ("Client id", cfg.oauth.client_id),
            ("Private key", _secret_source(cfg.oauth.private_key)),
            ("Scopes", " ".join(cfg.oauth.scopes)),
        ]
    elif cfg.api_token is not None:
        facts += [
            ("Authentication", "API token (SSWS)"),
            ("API token", _secret_source(cfg.api_token)),
        ]
    facts.append(("Hybrid", cfg.hybrid))
    facts.append(("Revoke OAuth tokens", "yes" if cfg.revoke_oauth_tokens else "no"))
    if cfg.ca_file:
        facts.append(("CA file", str(cfg.ca_file)))
    if cfg.allow_insecure_transport:
        facts.append(("Encryption", "plain http allowed (loopback only)"))
    facts.append(("Timeout", f"{cfg.timeout_s:g} s"))
    return tuple(facts)


def _ldap_tls(cfg: LdapTarget | ActiveDirectoryTarget) -> str:
    if cfg.start_tls:
        return "StartTLS"
    if all(urlsplit(u).scheme.lower() == "ldaps" for u in cfg.url.split()):
        return "LDAPS"
    return "none: passwords would cross in clear (allowed for this machine only)"


def _secret_source(source: SecretSource) -> str:
    if source.env is not None:
        return f"not shown; read from environment variable {source.env}"
    if source.file is not None:
        return f"not shown; read from file {source.file}"
    return "not shown; written in the configuration"


def _capabilities(names: frozenset[str]) -> tuple[Capability, ...]:
    known = [n for n in OPERATIONS if n in names]
    unknown = sorted(names - set(OPERATIONS))
    return tuple(Capability(n, CAPABILITY_LABELS.get(n, n)) for n in known + unknown)
