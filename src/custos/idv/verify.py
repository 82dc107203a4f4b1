"""Verifying a provider's signed result (a JWS compact JWT).

Order of checks: shape and size; the header's ``alg`` must be one of ES256,
RS256, EdDSA (``none`` and HS* never pass, whatever a provider's configuration
says); the issuer picks the provider, whose allowed algorithms, key (by
``kid``), audience and issuer are then enforced by the signature check. Times
(``iat``, ``nbf``, ``exp``) are checked against Custos's clock by
:func:`custos.proofing.reproofing.check_result`, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import jwt

from custos.clock import Clock
from custos.config import IdvProvider, ProofingConfig
from custos.idv.jwks import JwksCache, JwksUnavailable
from custos.proofing.reproofing import ReproofingRejected

ASYMMETRIC_ALGORITHMS: Final = frozenset({"ES256", "RS256", "EdDSA"})
MAX_TOKEN_CHARS: Final = 16_384
REQUIRED_CLAIMS: Final = ["iss", "aud", "sub", "iat", "exp", "jti"]


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    provider: str
    config: IdvProvider
    claims: dict[str, Any]


class IdvVerifier:
    """The configured providers and their cached key sets."""

    def __init__(self, config: ProofingConfig, clock: Clock) -> None:
        self._providers = dict(config.providers)
        self._caches = {name: JwksCache(p, clock) for name, p in self._providers.items()}

    def cache(self, provider: str) -> JwksCache:
        """The key cache of ``provider``; raises KeyError for an unknown name."""
        return self._caches[provider]

    def verify(self, token: str) -> VerifiedToken:
        """Return the claims of ``token`` once its signature, issuer, audience and
        algorithm check out. Raises ReproofingRejected with a reason naming what
        failed (never the token)."""
        token = token.strip()
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise ReproofingRejected("not a signed JWT")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise ReproofingRejected("not a signed JWT") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ASYMMETRIC_ALGORITHMS:
            raise ReproofingRejected(f"algorithm '{alg}' is refused")
        name = self._provider_of(unverified.get("iss"))
        provider = self._providers[name]
        if alg not in provider.algorithms:
            raise ReproofingRejected(f"algorithm '{alg}' is not allowed for provider '{name}'")
        if not isinstance(kid, str) or not kid:
            raise ReproofingRejected("the token names no key id")
        try:
            key = self._caches[name].key(kid)
        except JwksUnavailable as exc:
            raise ReproofingRejected(f"keys of provider '{name}' unavailable: {exc}") from exc
        if key is None:
            raise ReproofingRejected(f"unknown key id for provider '{name}'")
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=provider.audience,
                issuer=provider.issuer,
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": REQUIRED_CLAIMS,
                },
            )
        except jwt.InvalidAudienceError as exc:
            raise ReproofingRejected("wrong audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise ReproofingRejected("wrong issuer") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise ReproofingRejected(f"claim '{exc.claim}' is missing") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise ReproofingRejected("bad signature") from exc
        return VerifiedToken(provider=name, config=provider, claims=dict(claims))

    def _provider_of(self, issuer: object) -> str:
        for name, provider in self._providers.items():
            if provider.issuer == issuer:
                return name
        raise ReproofingRejected("unknown issuer")
