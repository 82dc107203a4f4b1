"""Authenticators a subject binds, subject sessions, and the rules between them
(R-24, R-26..R-30, R-36). Plain data and pure functions: no I/O.

Assurance levels (NIST SP 800-63B-4) as Custos counts them:

* a directory password alone is AAL1;
* a password plus a TOTP or a saved recovery code is AAL2;
* a password plus a WebAuthn assertion is AAL3 (phishing-resistant, the key
  never leaves the authenticator).

Binding a new authenticator needs a session at ``binding_aal(...)``: the lower
of the account's highest available AAL and the new authenticator's (R-28).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Final


class AuthenticatorKind(StrEnum):
    TOTP = "totp"
    WEBAUTHN = "webauthn"
    RECOVERY_CODES = "recovery_codes"


class Aal(IntEnum):
    AAL1 = 1
    AAL2 = 2
    AAL3 = 3


#: The AAL a password plus this kind of second factor reaches.
AAL_OF_KIND: Final[dict[AuthenticatorKind, Aal]] = {
    AuthenticatorKind.TOTP: Aal.AAL2,
    AuthenticatorKind.RECOVERY_CODES: Aal.AAL2,
    AuthenticatorKind.WEBAUTHN: Aal.AAL3,
}
#: Kinds that make an account multi-factor (``Subject.mfa_bound``); saved codes are
#: a recovery method, not an everyday authenticator.
MFA_KINDS: Final = frozenset({AuthenticatorKind.TOTP, AuthenticatorKind.WEBAUTHN})
#: Sign-in second factors, by the proof method name they use.
SECOND_FACTOR_METHODS: Final[dict[str, AuthenticatorKind]] = {
    "totp": AuthenticatorKind.TOTP,
    "webauthn": AuthenticatorKind.WEBAUTHN,
    "recovery_code": AuthenticatorKind.RECOVERY_CODES,
}

IDLE_TIMEOUT: Final = timedelta(hours=1)
ABSOLUTE_TIMEOUT: Final = timedelta(hours=24)
REAUTH_WINDOW: Final = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Authenticator:
    """One authenticator ever bound to a subject, with its lifecycle (R-36).
    ``revoked_at`` None means it is active."""

    id: str
    subject_id: str
    kind: AuthenticatorKind
    label: str
    bound_at: datetime
    bound_by: str
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def highest_aal(authenticators: Iterable[Authenticator]) -> Aal:
    """The highest AAL the subject can reach with what is bound now (AAL1: password only)."""
    levels = [AAL_OF_KIND[a.kind] for a in authenticators if a.active]
    return max(levels, default=Aal.AAL1)


def binding_aal(authenticators: Iterable[Authenticator], new_kind: AuthenticatorKind) -> Aal:
    """The AAL a session needs to bind ``new_kind`` (R-28)."""
    return min(highest_aal(authenticators), AAL_OF_KIND[new_kind])


def mfa_bound(authenticators: Iterable[Authenticator]) -> bool:
    return any(a.active and a.kind in MFA_KINDS for a in authenticators)


@dataclass(frozen=True, slots=True)
class SubjectSession:
    """A subject's own session with Custos (self-management, never recovery).

    ``aal`` is what the last authentication reached; ``second_factor_due`` is true
    between the password and the second factor, when the session may do nothing
    but finish signing in. ``reauth_at`` is the last full (re-)authentication.
    """

    id: int
    subject_id: str
    aal: Aal
    second_factor_due: bool
    created_at: datetime
    last_seen_at: datetime
    reauth_at: datetime | None
    ended_at: datetime | None = None

    def live(self, now: datetime) -> bool:
        """Not ended, idle less than an hour, younger than a day (R-30)."""
        return (
            self.ended_at is None
            and now < self.last_seen_at + IDLE_TIMEOUT
            and now < self.created_at + ABSOLUTE_TIMEOUT
        )

    def fresh(self, now: datetime) -> bool:
        """Fully re-authenticated within the last five minutes (R-27)."""
        return (
            not self.second_factor_due
            and self.reauth_at is not None
            and now - self.reauth_at <= REAUTH_WINDOW
        )
