"""The authorization code flow with PKCE (RFC 7636, S256), state and nonce,
Authlib's OAuth 2.0 client doing the requests.

:meth:`OidcRelyingParty.authorization_url` builds the request the browser is
sent to; :meth:`OidcRelyingParty.redeem` exchanges the code at the token
endpoint (client_secret_basic, or _post when the provider takes only that) and
validates the ID token (OpenID Connect Core §3.1.3.7): signature by a key of the
provider's JWKS under an allowed asymmetric algorithm, ``iss`` the configured
issuer, ``aud`` this client (``azp`` when there are several), ``exp``/``iat``
against Custos's clock, ``nonce`` the one sent, ``at_hash`` when present. Claims
the ID token lacks are read from the userinfo endpoint, whose ``sub`` must be the
token's (Core §5.3.2). Nothing here logs or returns a code or a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from custos.clock import Clock
from custos.config import ConfigError, OidcConfig
from custos.sso.discovery import ProviderDirectory, ProviderMetadata, tls_verify
from custos.sso.errors import ClaimsInvalid, IdTokenInvalid, ProviderRefused, ProviderUnavailable

#: Clock skew accepted between Custos and the provider on exp, iat and nbf.
LEEWAY_S: Final = 60
MAX_GROUPS: Final = 5000
MAX_GROUP_LENGTH: Final = 256


@dataclass(frozen=True, slots=True)
class SsoIdentity:
    """Who the provider says signed in, from a validated ID token (and userinfo)."""

    issuer: str
    subject: str  # the provider's ``sub``
    username: str  # the value of the configured username claim
    groups: frozenset[str]


class OidcRelyingParty:
    """Custos as an OpenID Connect client of one provider. Thread-safe."""

    def __init__(self, config: OidcConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self.provider = ProviderDirectory(config, clock)

    def _client(self, metadata: ProviderMetadata, redirect_uri: str) -> Any:
        try:
            secret = self.config.client_secret.reveal()
        except ConfigError as exc:
            raise ProviderUnavailable(
                "single sign-on is not configured completely (the client secret is missing)"
            ) from exc
        return OAuth2Client(
            client_id=self.config.client_id,
            client_secret=secret,
            token_endpoint_auth_method=metadata.token_auth_method,
            scope=" ".join(self.config.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            verify=tls_verify(self.config),
            timeout=self.config.timeout_s,
            follow_redirects=False,
        )

    def authorization_url(
        self, *, state: str, nonce: str, code_verifier: str, redirect_uri: str
    ) -> str:
        """Where to send the browser. Raises ProviderUnavailable."""
        metadata = self.provider.metadata()
        with self._client(metadata, redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint,
                state=state,
                nonce=nonce,
                code_verifier=code_verifier,
            )
        return str(url)

    def redeem(
        self, *, code: str, code_verifier: str, nonce: str, redirect_uri: str
    ) -> SsoIdentity:
        """The identity behind an authorization code. Raises ProviderUnavailable,
        ProviderRefused, IdTokenInvalid or ClaimsInvalid."""
        metadata = self.provider.metadata()
        with self._client(metadata, redirect_uri) as client:
            try:
                token = client.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    redirect_uri=redirect_uri,
                )
            except OAuthError as exc:
                raise ProviderRefused(
                    f"the provider refused the sign-in ({oauth_error_code(exc.error)})"
                ) from exc
            except (httpx2.HTTPError, ValueError) as exc:
                raise ProviderUnavailable(
                    f"the provider's token endpoint did not answer ({type(exc).__name__})"
                ) from exc
            raw = token.get("id_token")
            if not isinstance(raw, str) or not raw:
                raise IdTokenInvalid("the provider sent no ID token (is 'openid' in the scopes?)")
            access_token = token.get("access_token")
            claims = self._validated(raw, nonce=nonce, access_token=access_token)
            if self._needs_userinfo(claims) and metadata.userinfo_endpoint and access_token:
                claims = {**self._userinfo(client, metadata.userinfo_endpoint, claims), **claims}
        return self._identity(claims)

    def _validated(self, raw: str, *, nonce: str, access_token: object) -> dict[str, Any]:
        issuer = self.provider.metadata().issuer

        def check(keys: KeySet) -> dict[str, Any]:
            return validate_id_token(
                raw,
                keys=keys,
                issuer=issuer,
                client_id=self.config.client_id,
                algorithms=self.config.id_token_algorithms,
                nonce=nonce,
                access_token=access_token if isinstance(access_token, str) else None,
                now=int(self._clock.now().timestamp()),
            )

        try:
            return check(self.provider.keys())
        except IdTokenInvalid as exc:
            if not isinstance(exc.__cause__, InvalidKeyIdError):
                raise
        # A key id the cached set lacks: the provider may have rotated its keys.
        return check(self.provider.keys(refresh=True))

    def _needs_userinfo(self, claims: dict[str, Any]) -> bool:
        return self.config.username_claim not in claims or self.config.groups_claim not in claims

    def _userinfo(self, client: Any, endpoint: str, id_claims: dict[str, Any]) -> dict[str, Any]:
        try:
            response = client.get(endpoint, headers={"Accept": "application/json"})
        except httpx2.HTTPError as exc:
            raise ProviderUnavailable(
                f"the provider's userinfo endpoint did not answer ({type(exc).__name__})"
            ) from exc
        if response.status_code != 200:
            raise ProviderUnavailable(
                f"the provider's userinfo endpoint answered HTTP {response.status_code}"
            )
        try:
            found = response.json()
        except ValueError as exc:
            raise ClaimsInvalid("the provider's userinfo answer is not JSON") from exc
        if not isinstance(found, dict) or found.get("sub") != id_claims["sub"]:
            # Core §5.3.2: a userinfo answer about someone else is not used.
            raise ClaimsInvalid("the provider's userinfo answer is about another subject")
        return found

    def _identity(self, claims: dict[str, Any]) -> SsoIdentity:
        username = claims.get(self.config.username_claim)
        if not isinstance(username, str) or not username.strip():
            raise ClaimsInvalid(
                f"the provider sent no '{self.config.username_claim}' claim to name the operator"
            )
        return SsoIdentity(
            issuer=str(claims["iss"]),
            subject=str(claims["sub"]),
            username=username.strip(),
            groups=self._groups(claims.get(self.config.groups_claim)),
        )

    def _groups(self, value: object) -> frozenset[str]:
        if value is None:
            return frozenset()
        if isinstance(value, str):
            value = [value]
        name = self.config.groups_claim
        if not isinstance(value, list) or not all(isinstance(g, str) for g in value):
            raise ClaimsInvalid(f"the '{name}' claim is not a list of group names")
        if len(value) > MAX_GROUPS:
            raise ClaimsInvalid(f"the '{name}' claim lists more than {MAX_GROUPS} groups")
        # A longer name matches no rule (rules are at most that long).
        return frozenset(g for g in value if 0 < len(g) <= MAX_GROUP_LENGTH)


def oauth_error_code(error: object) -> str:
    """An OAuth error code, as the provider spelt it if it is one (RFC 6749 §5.2)."""
    text = str(error or "unknown_error")
    return text if text.replace("_", "").isalnum() and len(text) <= 60 else "unknown_error"


def _jose_reason(exc: JoseError) -> str:
    """What failed, as joserfc's error code and the claim's name (never a value)."""
    reason = exc.error or type(exc).__name__
    claim = getattr(exc, "claim", None)
    return f"{reason}: {claim}"[:100] if isinstance(claim, str) else reason[:100]


def validate_id_token(
    raw: str,
    *,
    keys: KeySet,
    issuer: str,
    client_id: str,
    algorithms: Sequence[str],
    nonce: str,
    access_token: str | None,
    now: int,
) -> dict[str, Any]:
    """The claims of ID token ``raw`` once valid (Core §3.1.3.7): signed by one of
    ``keys`` under one of ``algorithms``; ``iss`` is ``issuer``; ``aud`` holds
    ``client_id`` (with ``azp`` when it holds others); ``exp``, ``iat`` and ``nbf``
    hold at ``now`` (seconds) within :data:`LEEWAY_S`; ``nonce`` is the one sent;
    ``at_hash``, when present, matches ``access_token``. Raises IdTokenInvalid,
    caused by joserfc's error."""
    try:
        decoded = jwt.decode(raw, keys, registry=JWSRegistry(algorithms=list(algorithms)))
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": issuer},
                "aud": {"essential": True, "value": client_id},
                "sub": {"essential": True},
                "nonce": {"essential": True},
            },
            {"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        claims.validate(now=now, leeway=LEEWAY_S)
    except JoseError as exc:
        raise IdTokenInvalid(f"the provider's ID token is not valid ({_jose_reason(exc)})") from exc
    return dict(claims)
