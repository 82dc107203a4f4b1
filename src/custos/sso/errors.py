"""Why an operator's single sign-on failed, each with a stable error id
(hierarchy in ``custos.sso``). Messages are for the person signing in and never
hold a token, a code or a secret."""

from __future__ import annotations

from custos.domain.errors import NotAuthorized


class SsoFailed(NotAuthorized):
    error_id = "sso_failed"


class SsoStateInvalid(SsoFailed):
    """The answer names no sign-in this browser started here (unknown, used,
    expired, or started in another browser)."""

    error_id = "sso_state_invalid"


class TooManyStarts(SsoFailed):
    """Too many sign-ins were started from this address in the last minutes
    (``retry_after_s`` says when to try again)."""

    error_id = "sso_rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.retry_after_s = retry_after_s


class ProviderUnavailable(SsoFailed):
    """The provider's discovery document, key set or token endpoint could not
    be read, or answered something that is not OpenID Connect."""

    error_id = "sso_provider_unavailable"


class ProviderRefused(SsoFailed):
    """The provider answered with an OAuth 2.0 error (the person cancelled,
    the code was refused...)."""

    error_id = "sso_provider_error"


class IdTokenInvalid(SsoFailed):
    """The ID token failed validation: signature, issuer, audience, nonce or time."""

    error_id = "sso_token_invalid"


class ClaimsInvalid(SsoFailed):
    """The token is valid but lacks a usable username or groups claim."""

    error_id = "sso_claims_invalid"


class NoRoleMapped(SsoFailed):
    """None of the person's groups maps to an operator role."""

    error_id = "sso_no_role"


class OperatorDisabled(SsoFailed):
    """The operator with this name is disabled."""

    error_id = "sso_operator_disabled"


class OperatorConflict(SsoFailed):
    """No operator has the name, but one for the same person exists under another."""

    error_id = "sso_operator_conflict"
