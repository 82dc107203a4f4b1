"""Schemas of exactly the requests the Okta connector makes, written from Okta's
published API descriptions; the local Okta server validates every request
against them (extra properties forbidden) and answers 400 otherwise.

Sources (as published in okta/okta-management-openapi-spec, read through the
search tool; version 2026.06.3 of ``dist/current``):

* ``management-minimal.yaml`` (Okta Admin Management API 2026.06.3):
  ``listUsers`` (GET ``/api/v1/users``: ``limit``, ``after``, ``filter`` with
  ``profile.login eq "..."``), ``getUser`` (GET ``/api/v1/users/{id}``, id or
  URL-encoded login), ``updateUser`` (POST ``/api/v1/users/{id}``, partial
  update, ``UpdateUserRequest`` -> ``UserCredentials`` -> ``PasswordCredential``
  ``value``; query ``strict``), ``expirePassword``, ``unlockUser``,
  ``suspendUser``, ``unsuspendUser`` (POST ``.../lifecycle/...``, no body),
  ``revokeUserSessions`` (DELETE ``/api/v1/users/{userId}/sessions``, query
  ``oauthTokens``, ``forgetDevices``), ``listFactors`` and ``unenrollFactor``
  (query ``removeRecoveryEnrollment``); ``Error`` (``errorCode``,
  ``errorSummary``, ``errorLink``, ``errorId``, ``errorCauses``); the
  ``apiToken`` (``SSWS``) and ``oauth2`` security schemes.
* ``oauth-minimal.yaml`` (Okta OpenID Connect & OAuth 2.0 API, same release):
  POST ``/oauth2/v1/token`` with ``grant_type=client_credentials``, ``scope``,
  ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer``
  and ``client_assertion`` (private_key_jwt: ``iss`` = ``sub`` = client id,
  ``aud`` = the token endpoint, signed RS256/ES256 with a registered key).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

_Bool = Literal["true", "false"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TokenRequest(_Strict):
    """Client credentials with private_key_jwt client authentication."""

    grant_type: Literal["client_credentials"]
    scope: Annotated[str, StringConstraints(pattern=r"^okta\.[a-zA-Z.]+( okta\.[a-zA-Z.]+)*$")]
    client_assertion_type: Literal["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"]
    client_assertion: Annotated[str, StringConstraints(min_length=20)]


class PasswordCredential(_Strict):
    """PasswordCredential: one of ``value``, ``hash``, ``hook``."""

    value: Annotated[str, StringConstraints(min_length=1)] | None = None
    hash: dict[str, Any] | None = None
    hook: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> PasswordCredential:
        if len(self.model_fields_set) != 1:
            raise ValueError("give exactly one of value, hash or hook")
        return self


class UserCredentials(_Strict):
    password: PasswordCredential | None = None
    recovery_question: dict[str, str] | None = None
    provider: dict[str, str] | None = None


class UpdateUserRequest(_Strict):
    """UpdateUserRequest (partial update with POST)."""

    credentials: UserCredentials | None = None
    profile: dict[str, Any] | None = None
    realmId: str | None = None
    type: dict[str, str] | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateUserRequest:
        if not self.model_fields_set:
            raise ValueError("an empty update changes nothing")
        return self


class ListUsersQuery(_Strict):
    limit: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,2}$")] | None = None
    after: Annotated[str, StringConstraints(min_length=1)] | None = None
    filter: Annotated[str, StringConstraints(min_length=1)] | None = None
    search: Annotated[str, StringConstraints(min_length=1)] | None = None
    q: str | None = None


class UpdateUserQuery(_Strict):
    strict: _Bool | None = None


class RevokeSessionsQuery(_Strict):
    oauthTokens: _Bool | None = None
    forgetDevices: _Bool | None = None


class UnenrollFactorQuery(_Strict):
    removeRecoveryEnrollment: _Bool | None = None


class NoQuery(_Strict):
    """Operations that take no query parameters."""
