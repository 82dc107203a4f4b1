"""R-5: a locked authenticator is reset only by a fresh proof at its own level
(domain/authenticator_locks.py)."""

from __future__ import annotations

from custos.domain.authenticator_locks import (
    SIGN_IN_METHOD,
    cleared_by_removal,
    decide,
    lock_aal,
    may_reset_from_session,
    proven_aal,
)
from custos.domain.enrolment import Aal, AuthenticatorKind


def test_each_method_locks_at_the_level_it_stands_for() -> None:
    """R-5: the password and contact codes are AAL1, a TOTP app and saved codes
    AAL2, a security key AAL3; anything unknown is treated as the highest."""
    assert lock_aal(SIGN_IN_METHOD) == lock_aal("email_code") == lock_aal("sms_code") == Aal.AAL1
    assert lock_aal("totp") == lock_aal("recovery_code") == Aal.AAL2
    assert lock_aal("webauthn") == lock_aal("reproofing") == lock_aal("agent_challenge") == Aal.AAL3


def test_a_tier_proves_the_aal_it_names_and_aal1_when_it_names_none() -> None:
    assert [proven_aal(level) for level in (1, 2, 3)] == [Aal.AAL1, Aal.AAL2, Aal.AAL3]
    assert proven_aal(None) == Aal.AAL1


def test_an_aal2_recovery_resets_up_to_aal2_and_says_why_the_key_stays_locked() -> None:
    """R-5: a recovery at an AAL2 tier resets the password, TOTP and saved-code
    locks; the AAL3 security key stays locked and the reason names both levels."""
    decisions = {
        d.method: d
        for d in decide(["webauthn", "totp", SIGN_IN_METHOD, "recovery_code"], tier="t", tier_aal=2)
    }
    assert {m for m, d in decisions.items() if d.reset} == {"totp", "recovery_code", "password"}
    kept = decisions["webauthn"]
    assert not kept.reset and kept.authenticator_aal == Aal.AAL3
    assert "AAL3" in kept.reason and "AAL2" in kept.reason and "R-5" in kept.reason


def test_only_an_aal3_recovery_resets_a_security_key() -> None:
    assert all(d.reset for d in decide(["webauthn", "totp"], tier="t", tier_aal=3))
    assert [d.reset for d in decide(["webauthn"], tier="t", tier_aal=None)] == [False]
    assert [d.reset for d in decide(["totp"], tier="t", tier_aal=1)] == [False]
    assert decide([], tier="t", tier_aal=3) == []


def test_a_session_never_resets_a_lock_above_its_own_level() -> None:
    """R-5: "may not be done from a session of lower AAL than the authenticator"."""
    assert may_reset_from_session(Aal.AAL2, "totp")
    assert not may_reset_from_session(Aal.AAL1, "totp")
    assert not may_reset_from_session(Aal.AAL2, "webauthn")
    assert may_reset_from_session(Aal.AAL3, "webauthn")
    assert may_reset_from_session(Aal.AAL1, SIGN_IN_METHOD)


def test_the_reasons_name_the_method_both_levels_and_the_tier() -> None:
    """The ledger carries these words to auditors: they are pinned here."""
    reset, kept = decide(["totp", "webauthn"], tier="privileged", tier_aal=2)
    assert reset.reason == "totp (AAL2) reset by a fresh recovery at tier 'privileged' (AAL2)"
    assert (reset.method, reset.authenticator_aal, reset.reset) == ("totp", Aal.AAL2, True)
    assert kept.reason == (
        "webauthn stays locked: it is AAL3 and tier 'privileged' names AAL2; only a "
        "recovery at an AAL3 tier resets it (R-5)"
    )
    (unnamed,) = decide(["totp"], tier="standard", tier_aal=None)
    assert unnamed.reason == (
        "totp stays locked: it is AAL2 and tier 'standard' names no AAL (counted as AAL1); "
        "only a recovery at an AAL2 tier resets it (R-5)"
    )
    (password,) = decide([SIGN_IN_METHOD, SIGN_IN_METHOD], tier="standard", tier_aal=None)
    assert password.reason == (
        "password (AAL1) reset by a fresh recovery at tier 'standard' (no AAL (counted as AAL1))"
    )
    assert [d.method for d in decide(["webauthn", "email_code", "totp"], tier="t", tier_aal=3)] == [
        "email_code",
        "totp",
        "webauthn",
    ]


def test_a_reissue_clears_only_the_locks_of_the_kinds_it_removed() -> None:
    """R-5: the TOTP and key locks go with the removed TOTP app and key,
    whatever their AAL; the password and an email-code lock are not the
    reissue's to clear (the tier's AAL decides them)."""
    locked = ["webauthn", "totp", "password", "email_code", "recovery_code"]
    removed = {AuthenticatorKind.TOTP, AuthenticatorKind.WEBAUTHN}
    decisions = cleared_by_removal(locked, removed)
    assert [(d.method, int(d.authenticator_aal), d.reset) for d in decisions] == [
        ("totp", 2, True),
        ("webauthn", 3, True),
    ]
    assert all("the reissue removed the authenticator" in d.reason for d in decisions)
    assert cleared_by_removal(locked, set()) == []


def test_a_reissue_clearing_names_the_method_its_level_and_why() -> None:
    """R-5, R-36: the ledger carries the reason a reissue cleared a lock, word for word."""
    (totp, key) = cleared_by_removal(
        ["webauthn", "totp", "totp"], [AuthenticatorKind.WEBAUTHN, AuthenticatorKind.TOTP]
    )
    assert totp.reason == (
        "totp (AAL2) cleared: the reissue removed the authenticator it locked, and a new "
        "one is enrolled before the next sign-in (R-5)"
    )
    assert key.reason == (
        "webauthn (AAL3) cleared: the reissue removed the authenticator it locked, and a new "
        "one is enrolled before the next sign-in (R-5)"
    )
