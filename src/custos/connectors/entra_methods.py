"""Entra ID authentication methods as Microsoft Graph v1.0 lists them
(``GET /users/{id}/authentication/methods``), the per-type endpoints that delete
them, and the kinds Custos spells them as (``ReadFactorsOp``).

Graph lists every method through one collection, but deletes each through its
own type's collection (``/authentication/fido2Methods/{id}`` ...). The password
method cannot be deleted (it is reset instead), so it has no endpoint here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: ``@odata.type`` -> the collection under ``/users/{id}/authentication/`` that deletes it.
_HELLO = "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod"
DELETE_COLLECTIONS: dict[str, str] = {
    "#microsoft.graph.fido2AuthenticationMethod": "fido2Methods",
    "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod": "microsoftAuthenticatorMethods",
    "#microsoft.graph.softwareOathAuthenticationMethod": "softwareOathMethods",
    "#microsoft.graph.phoneAuthenticationMethod": "phoneMethods",
    "#microsoft.graph.emailAuthenticationMethod": "emailMethods",
    "#microsoft.graph.temporaryAccessPassAuthenticationMethod": "temporaryAccessPassMethods",
    _HELLO: "windowsHelloForBusinessMethods",
}

TAP_METHOD = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"

#: How Custos spells a method's kind: its authenticator kinds where one fits
#: (a FIDO2 security key or Windows Hello is a WebAuthn authenticator; a software
#: OATH token is TOTP), the Graph type's own name otherwise.
KINDS: dict[str, str] = {
    "#microsoft.graph.fido2AuthenticationMethod": "webauthn",
    "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod": "webauthn",
    "#microsoft.graph.softwareOathAuthenticationMethod": "totp",
    "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod": "microsoft_authenticator",
    "#microsoft.graph.phoneAuthenticationMethod": "phone",
    "#microsoft.graph.emailAuthenticationMethod": "email",
}


@dataclass(frozen=True, slots=True)
class AuthenticationMethod:
    """One method of a user: its Graph id and type, and Custos's name for its kind
    (None for the password and a Temporary Access Pass: not second factors)."""

    method_id: str
    odata_type: str
    kind: str | None

    @property
    def deletable(self) -> bool:
        return self.odata_type in DELETE_COLLECTIONS


@dataclass(frozen=True, slots=True)
class TemporaryAccessPass:
    """A Temporary Access Pass as Graph created it. ``secret`` is shown once: the
    caller hands it to the person and keeps no copy."""

    method_id: str
    secret: str
    start: datetime | None
    lifetime_minutes: int
    usable_once: bool


def method_from(item: object) -> AuthenticationMethod | None:
    """One entry of the methods collection, or None when it is not one."""
    if not isinstance(item, dict):
        return None
    method_id, odata_type = item.get("id"), item.get("@odata.type")
    if not isinstance(method_id, str) or not isinstance(odata_type, str):
        return None
    return AuthenticationMethod(method_id, odata_type, KINDS.get(odata_type))
