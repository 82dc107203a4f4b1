"""Configuration: a TOML file and ``CUSTOS_*`` environment variables, validated at
start with clear errors (environment wins over the file)."""

from __future__ import annotations

import os
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from custos.domain.errors import InvalidInput
from custos.domain.identities import Role


class ConfigError(InvalidInput):
    error_id = "config_invalid"


class SecretSource(BaseModel):
    """Where a bind secret comes from: the environment or a file, never the
    database. Exactly one of ``env`` / ``file`` (``value`` for tests and demos)."""

    model_config = ConfigDict(extra="forbid")
    env: str | None = None
    file: Path | None = None
    value: SecretStr | None = None

    @model_validator(mode="after")
    def _one(self) -> SecretSource:
        given = [x for x in (self.env, self.file, self.value) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of env, file or value")
        return self

    def reveal(self) -> str:
        """The secret. Raises ConfigError when the variable or file is missing."""
        if self.value is not None:
            return self.value.get_secret_value()
        if self.env is not None:
            found = os.environ.get(self.env)
            if found is None:
                raise ConfigError(f"environment variable {self.env} is not set")
            return found
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read secret file {self.file}: {exc.strerror}") from exc


def is_loopback_host(host: str | None) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (brackets allowed)."""
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _clear_text(url: str, *, secure_scheme: str, allow_insecure: bool, fix: str) -> None:
    """Refuse ``url`` unless it uses ``secure_scheme``, or ``allow_insecure`` is
    set and it points at this machine. Raises ValueError saying what to do."""
    parts = urlsplit(url)
    if parts.scheme.lower() == secure_scheme:
        return
    if not allow_insecure:
        raise ValueError(
            f"{url} would send credentials in clear text: {fix} (or, for a server on "
            "this machine only, set allow_insecure_transport = true)"
        )
    if not is_loopback_host(parts.hostname):
        raise ValueError(
            f"{url} would send credentials in clear text, and allow_insecure_transport "
            "is accepted only for a loopback host (localhost, 127.0.0.0/8, ::1)"
        )


def _check_filter(text: str) -> None:
    """A mapping filter is one parenthesised LDAP filter with balanced parentheses;
    the directory judges the rest (an invalid one fails the sync, naming it)."""
    depth = 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0 or (depth == 0 and index != len(text) - 1):
            break
    else:
        if text.startswith("(") and depth == 0:
            return
    raise ValueError(f"'{text}' is not one parenthesised LDAP filter, e.g. '(memberOf=cn=...)'")


class AttributeMapping(BaseModel):
    """Which directory attributes set which subject attributes (``subjects sync``;
    docs/operations.md#attribute-mapping). Every key is optional: an attribute
    not mapped keeps what the subject has. Group names are the first RDN value of
    each ``groups_attribute`` value (``CN=Domain Admins,CN=Users,...`` gives
    ``Domain Admins``), compared without regard to case."""

    model_config = ConfigDict(extra="forbid")
    #: Multi-valued attribute listing the account's groups (AD: memberOf).
    groups_attribute: str | None = None
    #: LDAP without the memberOf overlay: the groups are the groupOfNames and
    #: groupOfUniqueNames entries under this base whose member (uniqueMember) is
    #: the account's DN, found by one group search per sync.
    group_search_base: str | None = None
    #: Membership of any of these groups makes the subject privileged.
    privileged_groups: list[str] = Field(default_factory=list)
    #: Attribute values that make the subject privileged, e.g. {adminCount = "1"}.
    privileged_attributes: dict[str, str] = Field(default_factory=dict)
    #: LDAP filters the directory evaluates: an account matching any is privileged,
    #: e.g. ["(memberOf=cn=admins,ou=groups,dc=example,dc=org)"].
    privileged_filters: list[str] = Field(default_factory=list)
    #: objectClass values that set the kind, e.g. {applicationProcess = "service"}.
    kind_object_classes: dict[str, Literal["human", "service", "shared"]] = Field(
        default_factory=dict
    )
    #: DN fragments (an OU) that set the kind, e.g. {"OU=Service Accounts" = "service"}.
    kind_dn_contains: dict[str, Literal["human", "service", "shared"]] = Field(default_factory=dict)
    #: LDAP filters that set the kind, e.g. {"(employeeType=service)" = "service"}.
    kind_filters: dict[str, Literal["human", "service", "shared"]] = Field(default_factory=dict)
    #: Single-valued attributes. A DN value (manager, owner) is resolved to the
    #: subject of the synced account with that DN; one that matches no synced
    #: account is a conflict and the subject keeps its value.
    owner_attribute: str | None = None  # AD: seeAlso (no managedBy on users); LDAP: owner
    manager_attribute: str | None = None  # manager
    sponsor_attribute: str | None = None
    #: AD accountExpires (100 ns since 1601; 0 and 2^63-1 mean never) or an LDAP
    #: GeneralizedTime attribute.
    contract_end_attribute: str | None = None
    #: Contacts from the directory are unconfirmed until the subject confirms them (R-14).
    email_attribute: str | None = None
    phone_attribute: str | None = None
    employee_id_attribute: str | None = None  # employeeID / employeeNumber

    @field_validator("privileged_filters")
    @classmethod
    def _filter_list(cls, value: list[str]) -> list[str]:
        for text in value:
            _check_filter(text)
        return value

    @field_validator("kind_filters")
    @classmethod
    def _filter_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value:
            _check_filter(text)
        return value

    def filters(self) -> list[str]:
        """Every LDAP filter the mapping asks the directory to evaluate."""
        return sorted(set(self.privileged_filters) | set(self.kind_filters))

    @property
    def groups_key(self) -> str | None:
        """Where an account record carries its group DNs: the groups attribute, or
        ``memberOf`` when groups come from a group search; None: groups not mapped."""
        if self.groups_attribute:
            return self.groups_attribute
        return "memberOf" if self.group_search_base else None

    def attributes(self) -> list[str]:
        """Every directory attribute the mapping reads."""
        named = [
            self.groups_attribute,
            self.owner_attribute,
            self.manager_attribute,
            self.sponsor_attribute,
            self.contract_end_attribute,
            self.email_attribute,
            self.phone_attribute,
            self.employee_id_attribute,
        ]
        found = [n for n in named if n] + list(self.privileged_attributes)
        if self.kind_object_classes:
            found.append("objectClass")
        return sorted(set(found))


class _Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disabled_capabilities: list[str] = Field(default_factory=list)
    #: How this target's accounts set subject attributes (None: only name and mail).
    mapping: AttributeMapping | None = None
    #: The attribute whose value links this target's accounts to subjects
    #: (``custos subjects sync``); None: the account id itself.
    correlation_attribute: str | None = None
    #: Whether ``subjects sync`` may create subjects from this target's accounts;
    #: accounts of other targets only link to existing subjects.
    identity_source: bool = False


class BuiltinTarget(_Target):
    """The built-in directory (accounts in the Custos database)."""

    kind: Literal["builtin"] = "builtin"


class LdapTarget(_Target):
    """OpenLDAP (or any RFC 3062 directory with ppolicy)."""

    kind: Literal["ldap"]
    url: str = Field(pattern=r"^ldaps?://")
    start_tls: bool = False
    ca_file: Path | None = None
    bind_dn: str
    bind_password: SecretSource
    user_base: str
    account_attribute: str = "uid"
    user_object_class: str = "inetOrgPerson"
    timeout_s: float = Field(default=10, gt=0, le=300)
    #: Accept ldap:// without StartTLS; only for a server on this machine (tests, demos).
    allow_insecure_transport: bool = False

    @model_validator(mode="after")
    def _encrypted(self) -> LdapTarget:
        # A bind and every password change carry secrets: refuse them in clear.
        if not self.start_tls:
            for uri in self.url.split():  # libldap takes a space-separated list
                _clear_text(
                    uri,
                    secure_scheme="ldaps",
                    allow_insecure=self.allow_insecure_transport,
                    fix="use ldaps:// or start_tls = true",
                )
        return self


class ActiveDirectoryTarget(_Target):
    """Active Directory (or Samba AD): unicodePwd needs LDAPS or StartTLS."""

    kind: Literal["active_directory"]
    url: str = Field(pattern=r"^ldaps?://")
    start_tls: bool = False
    ca_file: Path | None = None
    bind_dn: str
    bind_password: SecretSource
    user_base: str
    account_attribute: Literal["sAMAccountName", "userPrincipalName"] = "sAMAccountName"
    timeout_s: float = Field(default=10, gt=0, le=300)

    @model_validator(mode="after")
    def _encrypted(self) -> ActiveDirectoryTarget:
        # AD itself refuses unicodePwd in clear, so there is no insecure setting.
        if not self.start_tls:
            for uri in self.url.split():
                if urlsplit(uri).scheme.lower() != "ldaps":
                    raise ValueError(
                        f"{uri} would send credentials in clear text: use ldaps:// or "
                        "start_tls = true (Active Directory resets passwords only over "
                        "an encrypted connection)"
                    )
        return self


class ScimOAuth2(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token_url: str = Field(pattern=r"^https?://")
    client_id: str
    client_secret: SecretSource
    scope: str | None = None


class ScimTarget(_Target):
    """A SCIM 2.0 service provider (RFC 7643/7644)."""

    kind: Literal["scim"]
    base_url: str = Field(pattern=r"^https?://")
    bearer_token: SecretSource | None = None
    oauth2: ScimOAuth2 | None = None
    ca_file: Path | None = None
    timeout_s: float = Field(default=10, gt=0, le=300)
    #: Accept http:// (base and token URL); only for a server on this machine (tests, demos).
    allow_insecure_transport: bool = False

    @model_validator(mode="after")
    def _auth(self) -> ScimTarget:
        if (self.bearer_token is None) == (self.oauth2 is None):
            raise ValueError("give exactly one of bearer_token or oauth2")
        # The bearer token, the client secret and every new password cross these URLs.
        urls = [self.base_url] + ([self.oauth2.token_url] if self.oauth2 else [])
        for url in urls:
            _clear_text(
                url,
                secure_scheme="https",
                allow_insecure=self.allow_insecure_transport,
                fix="use https://",
            )
        return self


#: LemonLDAP::NG session kinds the connector can end, as the sessions explorer
#: names them: ``global`` (SSO sessions), ``offline`` (OIDC offline sessions,
#: whose refresh tokens outlive the SSO session), ``persistent`` (the per-user
#: record: login history, OIDC consents, and the registered second factors).
LemonLdapSessionKind = Literal["global", "offline", "persistent"]


def _default_lemonldap_kinds() -> list[LemonLdapSessionKind]:
    return ["global", "offline"]


class LemonLdapTarget(_Target):
    """A LemonLDAP::NG 2.x SSO portal, through a Manager that serves the
    ``sessions`` and ``api`` modules (sessions explorer, Manager API v1) behind
    HTTP Basic authentication (docs/connectors.md#lemonldapng)."""

    kind: Literal["lemonldap"]
    #: Base URL of the Manager (``/sessions/...`` and ``/api/v1/...`` below it).
    url: str = Field(pattern=r"^https?://")
    username: str = Field(min_length=1)
    password: SecretSource
    ca_file: Path | None = None
    timeout_s: float = Field(default=10, gt=0, le=300)
    #: Which kinds of session ``revoke_sessions`` deletes (and reads back).
    session_kinds: list[LemonLdapSessionKind] = Field(
        default_factory=_default_lemonldap_kinds, min_length=1
    )
    #: Accept http://; only for a Manager on this machine (tests, demos).
    allow_insecure_transport: bool = False

    @model_validator(mode="after")
    def _encrypted(self) -> LemonLdapTarget:
        # The Basic credential crosses every request.
        _clear_text(
            self.url,
            secure_scheme="https",
            allow_insecure=self.allow_insecure_transport,
            fix="use https://",
        )
        if "global" not in self.session_kinds:
            raise ValueError("session_kinds must include global (the SSO sessions)")
        return self


class _CloudTarget(_Target):
    """What the cloud identity-provider targets share: HTTPS (http:// only on
    loopback with ``allow_insecure_transport``), a CA bundle, and how far the
    connector follows a 429's ``Retry-After`` or retries a 5xx before it gives
    the receipt back to the worker as Retryable."""

    ca_file: Path | None = None
    timeout_s: float = Field(default=10, gt=0, le=300)
    #: Extra tries of one request after a 429 or 5xx (0: none).
    max_retries: int = Field(default=2, ge=0, le=10)
    #: The longest ``Retry-After`` waited in the request; a longer one ends the
    #: try (Retryable) and the worker's backoff takes over.
    max_retry_after_s: float = Field(default=10, ge=0, le=300)
    #: Accept http:// URLs; only for a server on this machine (tests, demos).
    allow_insecure_transport: bool = False

    def _require_https(self, *urls: str) -> None:
        for url in urls:
            _clear_text(
                url,
                secure_scheme="https",
                allow_insecure=self.allow_insecure_transport,
                fix="use https://",
            )


class EntraTarget(_CloudTarget):
    """Microsoft Entra ID through Microsoft Graph v1.0 with an app registration's
    client credentials (docs/connectors.md#microsoft-entra-id). Accounts are
    named by userPrincipalName."""

    kind: Literal["entra"]
    tenant_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9.-]+$")
    client_id: str = Field(min_length=1)
    client_secret: SecretSource
    #: The token authority's host; the authority is ``<authority_host>/<tenant_id>``
    #: (national clouds and tests change it). MSAL accepts https only.
    authority_host: str = Field(
        default="https://login.microsoftonline.com", pattern=r"^https://[^/]+/?$"
    )
    graph_url: str = Field(default="https://graph.microsoft.com/v1.0", pattern=r"^https?://")
    #: ``cloud_only``: every user is a cloud user; one synced from AD is refused.
    #: ``ad_synced``: AD is a target too and owns synced users' passwords (they
    #: reach Entra by password hash sync or writeback): the connector does not
    #: write those, it still ends their sessions.
    hybrid: Literal["cloud_only", "ad_synced"] = "cloud_only"
    #: Lifetime of a Temporary Access Pass the connector issues (Graph: 10..43200).
    tap_lifetime_minutes: int = Field(default=60, ge=10, le=43200)

    @model_validator(mode="after")
    def _encrypted(self) -> EntraTarget:
        self._require_https(self.graph_url)
        return self

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant_id}"


def _default_okta_scopes() -> list[str]:
    return ["okta.users.manage", "okta.users.read"]


class OktaOAuth(BaseModel):
    """An Okta API service app: OAuth 2.0 client credentials with
    ``private_key_jwt`` (a JWT signed with the app's private key, whose public
    key is registered in the app's JWK set)."""

    model_config = ConfigDict(extra="forbid")
    client_id: str = Field(min_length=1)
    #: The PEM private key (RSA or EC) that signs the client assertion.
    private_key: SecretSource
    #: The ``kid`` of the registered public key (Okta picks the key by it when the
    #: app has several).
    key_id: str | None = None
    #: RS256 for an RSA key, ES256 for a P-256 key.
    algorithm: Literal["RS256", "ES256"] = "RS256"
    scopes: list[str] = Field(default_factory=_default_okta_scopes, min_length=1)


class OktaTarget(_CloudTarget):
    """An Okta org through its Management API (``/api/v1/users``) with an API
    token (``SSWS``) or an OAuth service app (docs/connectors.md#okta).
    Accounts are named by ``profile.login``."""

    kind: Literal["okta"]
    #: The org's URL, e.g. ``https://example.okta.com`` (no path).
    org_url: str = Field(pattern=r"^https?://[^/]+/?$")
    api_token: SecretSource | None = None
    oauth: OktaOAuth | None = None
    #: ``revoke_sessions`` also revokes the OpenID Connect and OAuth refresh and
    #: access tokens Okta issued to the user (``oauthTokens=true``).
    revoke_oauth_tokens: bool = True
    #: ``cloud_only``: every user's password is Okta's; a user sourced from a
    #: directory (delegated authentication to AD or LDAP) is refused.
    #: ``directory_sourced``: that directory is a target too and owns those users'
    #: passwords: the connector does not write them, it still ends their sessions.
    hybrid: Literal["cloud_only", "directory_sourced"] = "cloud_only"

    @model_validator(mode="after")
    def _auth(self) -> OktaTarget:
        if (self.api_token is None) == (self.oauth is None):
            raise ValueError("give exactly one of api_token or oauth")
        self._require_https(self.org_url)
        return self

    @property
    def base_url(self) -> str:
        return self.org_url.rstrip("/")


TargetConfig = Annotated[
    BuiltinTarget
    | LdapTarget
    | ActiveDirectoryTarget
    | ScimTarget
    | LemonLdapTarget
    | EntraTarget
    | OktaTarget,
    Field(discriminator="kind"),
]


def _default_targets() -> dict[str, TargetConfig]:
    return {"directory": BuiltinTarget()}


class WorkerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: Seconds between two ``subjects sync`` runs in the worker; None: never
    #: (run ``custos subjects sync`` yourself).
    sync_interval_s: float | None = Field(default=None, gt=0)
    poll_interval_s: float = Field(default=0.5, gt=0, le=60)
    lease_s: int = Field(default=60, ge=5, le=3600)
    max_attempts: int = Field(default=5, ge=1, le=100)
    backoff_base_s: float = Field(default=2.0, gt=0, le=3600)
    backoff_max_s: float = Field(default=300.0, gt=0, le=86400)
    batch: int = Field(default=20, ge=1, le=1000)
    #: Receipts attempted at once (threads); 1 attempts them one after another.
    parallelism: int = Field(default=8, ge=1, le=64)


class SyslogSinkConfig(BaseModel):
    """A syslog receiver: RFC 5424 messages, octet-counted over TCP (RFC 6587),
    or over TLS (RFC 5425) validated against ``ca_file`` (system CAs if unset)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["syslog"]
    host: str
    port: int = Field(ge=1, le=65535)
    tls: bool = False
    ca_file: Path | None = None
    server_name: str | None = None  # the name the certificate must carry (default: host)
    facility: int = Field(default=13, ge=0, le=23)  # 13: log audit
    hostname: str | None = None  # HOSTNAME field (default: this machine's name)
    timeout_s: float = Field(default=10, gt=0, le=300)


class HttpsSinkConfig(BaseModel):
    """An HTTPS collector: each batch is one POST of a JSON array; 2xx acknowledges it."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["https"]
    url: str = Field(pattern=r"^https://")
    bearer_token: SecretSource | None = None
    ca_file: Path | None = None
    timeout_s: float = Field(default=10, gt=0, le=300)


SinkConfig = Annotated[SyslogSinkConfig | HttpsSinkConfig, Field(discriminator="kind")]


class SiemConfig(BaseModel):
    """Where ledger events are shipped as OCSF JSON (docs/siem.md)."""

    model_config = ConfigDict(extra="forbid")
    sinks: dict[str, SinkConfig] = Field(default_factory=dict)
    batch: int = Field(default=200, ge=1, le=10000)
    backoff_base_s: float = Field(default=2.0, gt=0, le=3600)
    backoff_max_s: float = Field(default=300.0, gt=0, le=86400)


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


JwsAlgorithm = Literal["ES256", "RS256", "EdDSA"]


def _default_algorithms() -> list[JwsAlgorithm]:
    return ["ES256"]


class IdvProvider(BaseModel):
    """An identity-verification provider whose signed JWT results re-proof a
    subject (``[proofing.providers.NAME]``, docs/proofing.md). Keys come from a
    JWKS: a local file or an https URL (cached ``jwks_ttl_s`` seconds). Only
    asymmetric algorithms: never ``none`` or HS*."""

    model_config = ConfigDict(extra="forbid")
    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    jwks_file: Path | None = None
    jwks_url: str | None = Field(default=None, pattern=r"^https://")
    ca_file: Path | None = None  # CA bundle for jwks_url (system CAs if unset)
    jwks_ttl_s: int = Field(default=300, ge=1, le=86400)
    algorithms: list[JwsAlgorithm] = Field(default_factory=_default_algorithms, min_length=1)
    max_token_age_s: int = Field(default=600, ge=1, le=86400)
    timeout_s: float = Field(default=10, gt=0, le=300)

    @model_validator(mode="after")
    def _one_jwks(self) -> IdvProvider:
        if (self.jwks_file is None) == (self.jwks_url is None):
            raise ValueError("give exactly one of jwks_file or jwks_url")
        return self


class ProofingConfig(BaseModel):
    """Proofing settings: the re-proofing providers, by name."""

    model_config = ConfigDict(extra="forbid")
    providers: dict[str, IdvProvider] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _distinct_issuers(self) -> ProofingConfig:
        issuers = [p.issuer for p in self.providers.values()]
        if len(set(issuers)) != len(issuers):
            raise ValueError("two providers share one issuer")
        return self


class SsfConfig(BaseModel):
    """Custos as an OpenID Shared Signals transmitter (docs/shared-signals.md):
    its signing keys, how SETs name subjects, and how they are pushed (RFC 8935)
    to the streams an admin configured."""

    model_config = ConfigDict(extra="forbid")
    #: The SET signing key ring (private keys mode 0600); default <data_dir>/ssf-keys.
    keys_dir: Path | None = None
    #: The algorithm of keys made by ``custos ssf keys rotate`` (RS256 for
    #: receivers that follow the CAEP interoperability profile).
    algorithm: JwsAlgorithm = "ES256"
    #: How a SET names the subject: ``email`` (the first confirmed email contact,
    #: else ``iss_sub``) or always ``iss_sub`` (iss: this issuer, sub: the subject id).
    subject_format: Literal["email", "iss_sub"] = "email"
    #: Accept http:// push endpoints; only for a receiver on this machine (tests, demos).
    allow_insecure_transport: bool = False
    #: CA bundle the receivers' certificates are checked against (system CAs if unset).
    ca_file: Path | None = None
    timeout_s: float = Field(default=10, gt=0, le=120)
    #: Attempts per SET before it is recorded as failed for good.
    max_attempts: int = Field(default=50, ge=1, le=1000)
    backoff_base_s: float = Field(default=5.0, gt=0, le=3600)
    backoff_max_s: float = Field(default=1800.0, gt=0, le=86400)
    #: Seconds a receiver waits between two verification requests on one stream.
    min_verification_interval_s: int = Field(default=10, ge=0, le=86400)


class SmtpConfig(BaseModel):
    """The SMTP relay for notifications (docs/notifications.md). ``security``:
    ``starttls`` (upgrade on 587), ``tls`` (implicit TLS on 465) or ``none``,
    which is accepted only for a relay on this machine."""

    model_config = ConfigDict(extra="forbid")
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretSource | None = None
    from_address: str = Field(pattern=r"^[^@\s<>]+@[^@\s<>]+$")
    ca_file: Path | None = None
    timeout_s: float = Field(default=10, gt=0, le=300)

    @model_validator(mode="after")
    def _check(self) -> SmtpConfig:
        if self.security == "none" and self.host not in LOOPBACK_HOSTS:
            raise ValueError("security 'none' is only allowed for a relay on 127.0.0.1/localhost")
        if (self.username is None) != (self.password is None):
            raise ValueError("give username and password together (or neither)")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"starttls": 587, "tls": 465, "none": 25}[self.security]


def _default_scopes() -> list[str]:
    return ["openid", "profile", "email"]


def _default_id_token_algorithms() -> list[JwsAlgorithm]:
    return ["RS256", "ES256"]


class RoleRule(BaseModel):
    """One rule of the SSO role mapping: members of ``group`` (a value of the
    groups claim, compared exactly) get ``roles`` over the subjects of ``scope``
    (subject groups; ``*`` is every subject)."""

    model_config = ConfigDict(extra="forbid")
    group: str = Field(min_length=1, max_length=256)
    roles: list[Role] = Field(min_length=1)
    scope: list[str] = Field(min_length=1)

    @field_validator("roles", mode="before")
    @classmethod
    def _known_roles(cls, value: Any) -> Any:
        # Say which name is wrong and which exist, not pydantic's enum message.
        known = [str(r) for r in Role]
        if isinstance(value, list):
            unknown = [str(v) for v in value if str(v) not in known]
            if unknown:
                raise ValueError(
                    f"unknown role {', '.join(repr(u) for u in unknown)}: "
                    f"the roles are {', '.join(known)}"
                )
        return value


class OidcConfig(BaseModel):
    """Operator sign-in to the console through an OpenID Connect provider
    (``[console.oidc]``, docs/console.md#single-sign-on): the authorization code flow with
    PKCE, state and nonce; the username claim names the operator, the groups
    claim picks roles and scope through ``role_mapping``."""

    model_config = ConfigDict(extra="forbid")
    #: The provider's issuer identifier; its discovery document is read from
    #: ``<issuer>/.well-known/openid-configuration`` and must name this issuer.
    issuer: str = Field(pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    client_secret: SecretSource
    scopes: list[str] = Field(default_factory=_default_scopes)
    #: The claim whose value is the operator's name (matched to existing operators).
    username_claim: str = Field(default="preferred_username", min_length=1)
    #: The claim listing the person's groups (a list of strings, or one string).
    groups_claim: str = Field(default="groups", min_length=1)
    #: Every rule whose group the person is in applies: roles and scopes are united.
    role_mapping: list[RoleRule] = Field(min_length=1)
    #: Signature algorithms accepted on ID tokens (never ``none`` or HS*).
    id_token_algorithms: list[JwsAlgorithm] = Field(
        default_factory=_default_id_token_algorithms, min_length=1
    )
    #: The label of the sign-in button ("Sign in with <label>").
    label: str = Field(default="single sign-on", min_length=1, max_length=60)
    ca_file: Path | None = None  # CA bundle for the provider (system CAs if unset)
    timeout_s: float = Field(default=10, gt=0, le=300)
    #: Accept an http:// issuer; only for a provider on this machine (tests, demos).
    allow_insecure_transport: bool = False

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        if not parts.netloc or parts.query or parts.fragment:
            raise ValueError("an issuer is an http(s) URL without query or fragment")
        return value

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("the scopes must include 'openid'")
        if any(not s or " " in s for s in value):
            raise ValueError("a scope is one word without spaces")
        return value

    @model_validator(mode="after")
    def _encrypted(self) -> OidcConfig:
        # The client secret and the authorization code cross the provider's URLs.
        _clear_text(
            self.issuer,
            secure_scheme="https",
            allow_insecure=self.allow_insecure_transport,
            fix="use an https:// issuer",
        )
        return self


class ConsoleConfig(BaseModel):
    """The operators' web console (docs/console.md). Sessions end after
    ``idle_minutes`` without a request or ``absolute_hours`` in all (R-30)."""

    model_config = ConfigDict(extra="forbid")
    idle_minutes: int = Field(default=15, ge=1, le=24 * 60)
    absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    #: OpenID Connect single sign-on for operators (docs/console.md#single-sign-on);
    #: unset: local accounts only.
    oidc: OidcConfig | None = None

    @model_validator(mode="after")
    def _idle_within_absolute(self) -> ConsoleConfig:
        if self.idle_minutes > self.absolute_hours * 60:
            raise ValueError("idle_minutes cannot exceed absolute_hours")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CUSTOS_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Path("custos-data")
    database_url: str | None = None
    sealing_key: SecretStr | None = None
    sealing_key_file: Path | None = None
    #: Where the sealing key ring lives: auto (env when sealing_key is set, else
    #: the file), file, env, or a plug-in "package.module:factory" (custos.keystore).
    sealing_key_store: str = Field(
        default="auto", pattern=r"^(auto|file|env|[A-Za-z_][\w.]*:[A-Za-z_]\w*)$"
    )
    public_origin: str = "http://127.0.0.1:8080"
    policy_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    #: Addresses or networks of the reverse proxies / load balancers in front of
    #: ``custos serve``. Only a request from one of them has its X-Forwarded-For
    #: read (custos.api.client_source); default none: the socket peer is the source.
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=list)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    outbox_dir: Path | None = None
    #: Ed25519 tree-head keys (custos.ledger.signing); default <data_dir>/ledger-keys.
    ledger_keys_dir: Path | None = None
    ledger_head_interval_s: int = Field(default=300, ge=1, le=86400)
    #: Witnesses outside the database that receive every new signed tree head.
    ledger_witness_file: Path | None = None
    ledger_witness_url: str | None = Field(default=None, pattern=r"^https?://")
    #: Security alerts (tamper detected), POSTed with an HMAC-SHA256 signature.
    security_webhook_url: str | None = Field(default=None, pattern=r"^https?://")
    security_webhook_secret: SecretStr | None = None
    targets: dict[str, TargetConfig] = Field(default_factory=_default_targets)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    console: ConsoleConfig = Field(default_factory=ConsoleConfig)
    siem: SiemConfig = Field(default_factory=SiemConfig)
    #: Email over SMTP; when unset, messages go to the outbox folder (the demo).
    smtp: SmtpConfig | None = None
    #: Where security alerts (repudiations, fraud flags) are mailed (R-43).
    security_address: str | None = Field(default=None, pattern=r"^[^@\s<>]+@[^@\s<>]+$")
    #: Risk and abuse resistance (docs/abuse-resistance.md).
    #: A MaxMind DB (e.g. GeoLite2-City.mmdb) for the geo-velocity signal; unset: no signal.
    geoip_database: Path | None = None
    #: Shared secret of the carrier's signed SIM-swap webhook; unset: the webhook refuses all.
    sim_swap_webhook_secret: SecretStr | None = None
    #: How long a SIM-swap or porting signal blocks SMS recovery (R-44).
    sim_swap_block_days: int = Field(default=7, ge=1, le=365)
    #: A signed webhook request older (or newer) than this is refused as a replay.
    sim_swap_max_skew_s: int = Field(default=300, ge=10, le=3600)
    #: No recovery activity for this long makes an account "dormant" (a risk signal).
    dormant_after_days: int = Field(default=180, ge=1, le=3650)
    #: Request bodies above this many bytes are refused with 413 before they are
    #: read (custos.api.body_limit); the largest Custos takes is a policy file.
    max_request_bytes: int = Field(default=1_048_576, ge=16_384, le=67_108_864)
    #: Serve Prometheus figures at ``/metrics`` (unauthenticated); off: 404.
    metrics_enabled: bool = False
    #: Unauthenticated self-service answers take at least this long (R-19).
    enumeration_floor_ms: int = Field(default=250, ge=0, le=5000)
    #: The demo's SMS gateway writes here (default <data_dir>/sms-outbox).
    sms_outbox_dir: Path | None = None
    #: Re-proofing providers and other proofing settings (docs/proofing.md).
    proofing: ProofingConfig = Field(default_factory=ProofingConfig)
    #: The shared-signals transmitter (docs/shared-signals.md).
    ssf: SsfConfig = Field(default_factory=SsfConfig)

    @field_validator("public_origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        # Reset links are built from this origin, never from the Host header.
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise ValueError("must be an http(s) origin such as https://recovery.example.com")
        return value.rstrip("/")

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'custos.db').resolve()}"

    @property
    def effective_key_file(self) -> Path:
        return self.sealing_key_file or self.data_dir / "sealing.key"

    @property
    def effective_outbox(self) -> Path:
        return self.outbox_dir or self.data_dir / "outbox"

    @property
    def effective_sms_outbox(self) -> Path:
        return self.sms_outbox_dir or self.data_dir / "sms-outbox"

    @property
    def effective_ledger_keys_dir(self) -> Path:
        return self.ledger_keys_dir or self.data_dir / "ledger-keys"

    @property
    def effective_ssf_keys_dir(self) -> Path:
        return self.ssf.keys_dir or self.data_dir / "ssf-keys"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from ``config_file`` (TOML, optional) and the environment.
    Raises ConfigError naming every bad key."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"configuration file not found: {config_file}")

    class _FileSettings(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            if config_file is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
            return tuple(sources)

    try:
        return _FileSettings(**overrides)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()
        ]
        where = f" in {config_file}" if config_file else ""
        raise ConfigError(
            f"invalid configuration{where}:\n  " + "\n  ".join(problems), problems=problems
        ) from exc
    except (OSError, ValueError) as exc:  # a TOML syntax error surfaces as ValueError
        raise ConfigError(f"cannot read configuration {config_file}: {exc}") from exc
