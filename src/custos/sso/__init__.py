"""Operator single sign-on to the console: an OpenID Connect relying party
(Authlib as the OAuth 2.0 client, joserfc for the ID token's signature).

``discovery`` reads the provider's metadata and key set, ``relying_party`` builds
the authorization request (state, nonce, PKCE S256) and redeems the code into a
validated :class:`~custos.sso.relying_party.SsoIdentity`, ``role_mapping`` turns
the person's groups into operator roles and scope. What is done with the
identity (match, create or update an operator, open a console session) is the
service layer's (``custos.service.console_sso``).

Errors (``custos.sso.errors``)::

    NotAuthorized
    └── SsoFailed                  sso_failed
        ├── SsoStateInvalid        sso_state_invalid
        ├── TooManyStarts          sso_rate_limited
        ├── ProviderUnavailable    sso_provider_unavailable
        ├── ProviderRefused        sso_provider_error
        ├── IdTokenInvalid         sso_token_invalid
        ├── ClaimsInvalid          sso_claims_invalid
        ├── NoRoleMapped           sso_no_role
        ├── OperatorDisabled       sso_operator_disabled
        └── OperatorConflict       sso_operator_conflict
"""
