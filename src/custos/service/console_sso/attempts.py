"""A single sign-on between the redirect to the provider and its answer.

The state sent to the provider is 256 random bits; the server keeps only its
SHA-256, with the SHA-256 of a random value held in the starting browser's
cookie (login CSRF: an answer is taken only in the browser that asked) and where
to go afterwards, for :data:`ATTEMPT_TTL`. The nonce and the PKCE verifier are
HMACs of the state under a key derived from the master key: nothing the browser
sends decides them, and nothing secret is stored. An attempt is taken once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from custos.credentials.tokens import token_digest
from custos.domain.errors import NotFound
from custos.service.ports import Services
from custos.service.signals import throttles
from custos.sso.errors import SsoStateInvalid, TooManyStarts
from custos.sso.relying_party import OidcRelyingParty
from custos.store.sso_attempt_repository import SsoAttempt

ATTEMPT_TTL: Final = timedelta(minutes=10)
CALLBACK_PATH: Final = "/console/sso/callback"
#: secrets.token_urlsafe(32): 43 URL-safe characters.
RANDOM_VALUE: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_RETURN_TO: Final = 500


@dataclass(frozen=True, slots=True)
class Started:
    #: The provider's authorization endpoint with this sign-in's request.
    url: str
    #: The value of the browser's binding cookie (the one it had, or a new one).
    binding: str


def relying_party(svc: Services) -> OidcRelyingParty:
    """The configured provider. Raises NotFound when single sign-on is off."""
    if svc.sso is None:
        raise NotFound("single sign-on is not configured ([console.oidc])")
    return svc.sso


def redirect_uri(svc: Services) -> str:
    """The callback the provider sends the browser back to, from the configured
    public origin (never the Host header)."""
    return svc.settings.public_origin + CALLBACK_PATH


def safe_return_to(path: str | None) -> str:
    """``path`` when it is a path on this site, else ``/`` (no open redirect)."""
    if (
        not path
        or len(path) > MAX_RETURN_TO
        or not path.startswith("/")
        or path.startswith(("//", "/\\"))
        or any(ord(c) < 0x21 or c == "\\" for c in path)
    ):
        return "/"
    return path


def derived_secrets(svc: Services, state: str) -> tuple[str, str]:
    """The nonce and the PKCE code verifier of the sign-in with ``state``."""
    key = svc.key.subkey("custos/console/sso/v1")

    def mac(label: str) -> str:
        digest = hmac.new(key, f"{label}:{state}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    # 43 characters each: a verifier is 43 to 128 unreserved characters (RFC 7636 §4.1).
    return mac("nonce"), mac("pkce")


def begin(
    svc: Services, *, binding: str | None, return_to: str | None, source: str | None = None
) -> Started:
    """Start a sign-in from ``source`` (the client's address). Raises NotFound
    (not configured), TooManyStarts (SSO_STARTS_PER_SOURCE: each start stores an
    attempt, so an unauthenticated flood is bounded) or ProviderUnavailable."""
    party = relying_party(svc)
    if binding is None or not RANDOM_VALUE.fullmatch(binding):
        binding = secrets.token_urlsafe(32)
    state = secrets.token_urlsafe(32)
    nonce, verifier = derived_secrets(svc, state)
    url = party.authorization_url(
        state=state, nonce=nonce, code_verifier=verifier, redirect_uri=redirect_uri(svc)
    )
    now = svc.clock.now()
    with svc.uow() as uow:
        refusal = throttles.admit_sso_start(uow, source=source, now=now)
        if refusal is not None:
            uow.commit()
            raise TooManyStarts(
                "too many sign-ins were started from this address: try again in "
                f"{refusal.retry_after_s} seconds",
                retry_after_s=refusal.retry_after_s,
            )
        uow.sso_attempts.purge_expired(now=now)
        uow.sso_attempts.add(
            SsoAttempt(
                state_digest=token_digest(state),
                browser_digest=token_digest(binding),
                return_to=safe_return_to(return_to),
                expires_at=now + ATTEMPT_TTL,
            ),
            now=now,
        )
        uow.commit()
    return Started(url=url, binding=binding)


def take(svc: Services, *, state: str | None, binding: str | None) -> SsoAttempt:
    """The attempt the provider's answer belongs to, used up. Raises
    SsoStateInvalid (details: ``reason``) for a missing, unknown, used or
    expired state, or one started in another browser."""

    def refused(reason: str) -> SsoStateInvalid:
        return SsoStateInvalid(
            "this answer from the identity provider matches no sign-in started in this "
            "browser in the last 10 minutes: start the sign-in again",
            reason=reason,
        )

    if not state or not RANDOM_VALUE.fullmatch(state):
        raise refused("state_missing")
    now = svc.clock.now()
    with svc.uow() as uow:
        attempt = uow.sso_attempts.take(token_digest(state))
        uow.commit()  # used up even when refused below
    if attempt is None:
        raise refused("state_unknown")
    if attempt.expires_at <= now:
        raise refused("state_expired")
    if not binding or not hmac.compare_digest(attempt.browser_digest, token_digest(binding)):
        raise refused("other_browser")
    return attempt
