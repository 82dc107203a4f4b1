"""Schemas of exactly the requests the Entra ID connector makes, written from
Microsoft's published API descriptions; the local Graph server validates every
request against them (extra properties forbidden) and answers 400 otherwise.

Sources (as published, read through the search tool):

* Token request: Microsoft identity platform v2.0, "OAuth 2.0 client credentials
  flow", first case (shared secret): POST ``/{tenant}/oauth2/v2.0/token``, form
  ``client_id``, ``scope`` (``<resource>/.default``), ``client_secret``,
  ``grant_type=client_credentials``.
* Graph: Microsoft Graph v1.0 OpenAPI description (microsoftgraph/msgraph-metadata,
  ``openapi/v1.0/openapi.yaml``) and the v1.0 reference pages:
  ``microsoft.graph.passwordProfile`` (``password``, ``forceChangePasswordNextSignIn``,
  ``forceChangePasswordNextSignInWithMfa``), "Update user" (PATCH ``/users/{id}``),
  "user: revokeSignInSessions" (POST, no body), "List methods"
  (``/users/{id}/authentication/methods``), the per-type "Delete" operations,
  "Create temporaryAccessPassMethod" (``startDateTime``, ``lifetimeInMinutes``
  10..43200, ``isUsableOnce``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TokenRequest(_Strict):
    """identity platform v2.0 client credentials, shared secret."""

    grant_type: Literal["client_credentials"]
    client_id: Annotated[str, StringConstraints(min_length=1)]
    client_secret: Annotated[str, StringConstraints(min_length=1)]
    scope: Annotated[str, StringConstraints(pattern=r"^https://[^/\s]+/\.default$")]
    #: MSAL asks for client info on every request (a documented optional parameter).
    client_info: Literal["1"] | None = None


class PasswordProfile(_Strict):
    """microsoft.graph.passwordProfile (v1.0)."""

    password: Annotated[str, StringConstraints(min_length=1)] | None = None
    forceChangePasswordNextSignIn: bool | None = None
    forceChangePasswordNextSignInWithMfa: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> PasswordProfile:
        if self.model_fields_set == set():
            raise ValueError("an empty passwordProfile changes nothing")
        return self


class UserUpdate(_Strict):
    """The part of microsoft.graph.user's update body the connector sends."""

    passwordProfile: PasswordProfile


class TemporaryAccessPassCreate(_Strict):
    """microsoft.graph.temporaryAccessPassAuthenticationMethod, create (v1.0)."""

    startDateTime: datetime | None = None
    lifetimeInMinutes: Annotated[int, Field(ge=10, le=43200)] | None = None
    isUsableOnce: bool | None = None


#: microsoft.graph.user properties (v1.0) a $select may name; the connector's subset.
USER_PROPERTIES = frozenset(
    {
        "id",
        "userPrincipalName",
        "accountEnabled",
        "lastPasswordChangeDateTime",
        "onPremisesSyncEnabled",
        "passwordProfile",
        "displayName",
        "mail",
    }
)


class UserQuery(_Strict):
    """OData query options on GET /users and GET /users/{id}."""

    select: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        default=None, alias="$select"
    )
    top: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{0,2}$")] | None = Field(
        default=None, alias="$top"
    )

    @model_validator(mode="after")
    def _known(self) -> UserQuery:
        unknown = set((self.select or "id").split(",")) - USER_PROPERTIES
        if unknown:
            raise ValueError(f"$select names no user property: {sorted(unknown)}")
        return self


class NoQuery(_Strict):
    """Operations that take no query options."""
