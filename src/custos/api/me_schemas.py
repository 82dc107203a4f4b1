"""Bodies of the subject self-management API (``/api/v1/me``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from custos.api.schemas import RequestBody


class SignInBody(RequestBody):
    identifier: str = Field(min_length=1, max_length=254)
    password: str = Field(min_length=1, max_length=1024)


class SecondFactorBody(RequestBody):
    method: str = Field(min_length=1, max_length=30)
    #: A TOTP or saved recovery code, or the WebAuthn assertion JSON as a string.
    code: str = Field(default="", max_length=16384)


class ReauthBody(RequestBody):
    password: str = Field(min_length=1, max_length=1024)
    method: str | None = Field(default=None, max_length=30)
    code: str = Field(default="", max_length=16384)


class SessionOut(BaseModel):
    session: str
    aal: int
    second_factor_due: bool
    second_factors: list[str]
    replacement_recovery_code: str | None = None
    #: R-45: bind a security key (WebAuthn) before anything else.
    bind_required: bool = False


class CodeBody(RequestBody):
    code: str = Field(min_length=1, max_length=64)


class WebAuthnRegistrationBody(RequestBody):
    credential: dict[str, Any]
    label: str = Field(default="", max_length=100)


class RevokeBody(RequestBody):
    reason: str = Field(default="", max_length=200)


class ContactBody(RequestBody):
    address: str = Field(min_length=3, max_length=320)
    #: ``sms``: a phone number (international form) for SMS codes.
    kind: Literal["email", "sms"] = "email"


class LockOut(BaseModel):
    """A method R-18 locked: the AAL a fresh proof needs to reset it (R-5), and
    whether this session is at that level."""

    method: str
    aal: int
    session_may_reset: bool


class AuthenticatorOut(BaseModel):
    id: str
    kind: str
    label: str
    bound_at: datetime
    bound_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None
    active: bool


class PendingTotpOut(BaseModel):
    pending_id: int
    otpauth_uri: str
    #: The same URI as a QR code for the authenticator app: an SVG ``data:`` URI.
    qr_code: str


class RecoveryCodesOut(BaseModel):
    codes: list[str]


class ContactOut(BaseModel):
    id: int
    kind: str
    address: str
    added_at: datetime
    confirmed_at: datetime | None


class LinkBody(RequestBody):
    link: str = Field(min_length=1, max_length=100)


class LinkProofBody(LinkBody):
    credential: dict[str, Any]
