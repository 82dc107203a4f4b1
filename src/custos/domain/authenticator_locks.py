"""R-5 (NIST SP 800-63B-4 §3.2.2): resetting a locked authenticator.

An authenticator (a proofing method, or the password at sign-in) that R-18's
limit of consecutive failures has locked stays locked until a fresh proof at
its own level resets it. A recovery case is that proof: when its one-time
token is redeemed, the proofs it collected have satisfied the AAL its tier
names (``Requirements.aal``, R-1..R-3), and that level, and no other, decides
which locks it lifts. A tier that names no AAL proves only AAL1. A session
never resets a lock above its own AAL (``may_reset_from_session``); otherwise
account recovery at the authenticator's level is used.

A reissue removes every authenticator bound in Custos and demands a new one: the
lock of a method whose authenticator it removed is cleared with it
(``cleared_by_removal``), whatever the tier's AAL, since no authenticator is
left for the lock to protect and a stale lock would refuse the one enrolled
next.

Plain data and pure functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from custos.domain.enrolment import SECOND_FACTOR_METHODS, Aal, AuthenticatorKind

#: The password at sign-in (the ``signin`` throttle) as a lockable authenticator.
SIGN_IN_METHOD: Final = "password"

#: The AAL each lockable method stands for: the password and codes sent to a
#: recovery contact are AAL1 (R-1); a TOTP app or a saved recovery code with the
#: password AAL2; a WebAuthn authenticator AAL3. Anything else (re-proofing, an
#: assisted method) is treated as AAL3: only the highest proof resets it.
LOCK_AAL: Final[dict[str, Aal]] = {
    SIGN_IN_METHOD: Aal.AAL1,
    "email_code": Aal.AAL1,
    "sms_code": Aal.AAL1,
    "totp": Aal.AAL2,
    "recovery_code": Aal.AAL2,
    "webauthn": Aal.AAL3,
}


def lock_aal(method: str) -> Aal:
    """The level a fresh proof must reach to reset ``method``'s lock."""
    return LOCK_AAL.get(method, Aal.AAL3)


def proven_aal(tier_aal: int | None) -> Aal:
    """The level a completed recovery at a tier proves: the AAL the tier names,
    AAL1 when it names none."""
    return Aal(tier_aal) if tier_aal is not None else Aal.AAL1


def may_reset_from_session(session_aal: Aal, method: str) -> bool:
    """Whether a session at ``session_aal`` may reset ``method``'s lock (never
    from a lower one)."""
    return session_aal >= lock_aal(method)


@dataclass(frozen=True, slots=True)
class LockDecision:
    method: str
    authenticator_aal: Aal
    reset: bool
    reason: str


def decide(locked: Iterable[str], *, tier: str, tier_aal: int | None) -> list[LockDecision]:
    """For each locked method, whether a recovery at ``tier`` resets it, and why."""
    proven = proven_aal(tier_aal)
    named = f"AAL{int(proven)}" if tier_aal is not None else "no AAL (counted as AAL1)"
    decisions = []
    for method in sorted(set(locked)):
        level = lock_aal(method)
        if level <= proven:
            reason = (
                f"{method} (AAL{int(level)}) reset by a fresh recovery at tier '{tier}' ({named})"
            )
            decisions.append(LockDecision(method, level, True, reason))
        else:
            reason = (
                f"{method} stays locked: it is AAL{int(level)} and tier '{tier}' names "
                f"{named}; only a recovery at an AAL{int(level)} tier resets it (R-5)"
            )
            decisions.append(LockDecision(method, level, False, reason))
    return decisions


def cleared_by_removal(
    locked: Iterable[str], removed: Iterable[AuthenticatorKind]
) -> list[LockDecision]:
    """The locks a reissue clears: those of ``locked`` whose method's
    authenticator kind is among the ``removed`` ones (other locks are left to
    :func:`decide`)."""
    gone = set(removed)
    decisions = []
    for method in sorted(set(locked)):
        kind = SECOND_FACTOR_METHODS.get(method)
        if kind is None or kind not in gone:
            continue
        level = lock_aal(method)
        reason = (
            f"{method} (AAL{int(level)}) cleared: the reissue removed the authenticator it "
            "locked, and a new one is enrolled before the next sign-in (R-5)"
        )
        decisions.append(LockDecision(method, level, True, reason))
    return decisions
