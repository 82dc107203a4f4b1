"""Assurance levels of bound authenticators and the subject session's clocks
(R-27, R-28, R-30, R-36), as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custos.domain.enrolment import (
    Aal,
    Authenticator,
    AuthenticatorKind,
    SubjectSession,
    binding_aal,
    highest_aal,
    mfa_bound,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
K = AuthenticatorKind


def bound(kind: AuthenticatorKind, *, revoked: bool = False) -> Authenticator:
    return Authenticator(
        id=f"a-{kind}",
        subject_id="alice",
        kind=kind,
        label=str(kind),
        bound_at=T0,
        bound_by="subject:alice",
        revoked_at=T0 + timedelta(days=1) if revoked else None,
    )


@pytest.mark.parametrize(
    ("kinds", "aal"),
    [
        ((), Aal.AAL1),
        ((K.RECOVERY_CODES,), Aal.AAL2),
        ((K.TOTP,), Aal.AAL2),
        ((K.TOTP, K.WEBAUTHN), Aal.AAL3),
        ((K.WEBAUTHN, K.RECOVERY_CODES), Aal.AAL3),
    ],
)
def test_highest_aal_is_the_best_active_authenticators(
    kinds: tuple[AuthenticatorKind, ...], aal: Aal
) -> None:
    """A password alone is AAL1; TOTP or saved codes AAL2; WebAuthn AAL3."""
    assert highest_aal(bound(k) for k in kinds) is aal


def test_highest_aal_ignores_revoked_authenticators() -> None:
    """R-36: a revoked authenticator proves nothing any more."""
    assert highest_aal([bound(K.WEBAUTHN, revoked=True), bound(K.TOTP)]) is Aal.AAL2
    assert highest_aal([bound(K.TOTP, revoked=True)]) is Aal.AAL1


@pytest.mark.parametrize(
    ("kinds", "new", "aal"),
    [
        ((), K.WEBAUTHN, Aal.AAL1),
        ((K.TOTP,), K.WEBAUTHN, Aal.AAL2),
        ((K.WEBAUTHN,), K.TOTP, Aal.AAL2),
        ((K.WEBAUTHN,), K.WEBAUTHN, Aal.AAL3),
    ],
)
def test_binding_aal_is_the_lower_of_account_and_new_authenticator(
    kinds: tuple[AuthenticatorKind, ...], new: AuthenticatorKind, aal: Aal
) -> None:
    """R-28: binding needs the lower of the account's highest AAL and the new one's."""
    assert binding_aal([bound(k) for k in kinds], new) is aal


def test_mfa_bound_counts_active_totp_or_webauthn_only() -> None:
    """Saved recovery codes are a recovery method, not an everyday factor."""
    assert not mfa_bound([])
    assert not mfa_bound([bound(K.RECOVERY_CODES)])
    assert not mfa_bound([bound(K.TOTP, revoked=True)])
    assert mfa_bound([bound(K.TOTP)])
    assert mfa_bound([bound(K.RECOVERY_CODES), bound(K.WEBAUTHN)])


def session(**changes: object) -> SubjectSession:
    values: dict[str, object] = {
        "id": 1,
        "subject_id": "alice",
        "aal": Aal.AAL2,
        "second_factor_due": False,
        "created_at": T0,
        "last_seen_at": T0,
        "reauth_at": T0,
    }
    values.update(changes)
    return SubjectSession(**values)  # type: ignore[arg-type]


def test_session_lives_until_an_hour_idle() -> None:
    """R-30: idle for an hour ends the session; the boundary itself is too late."""
    s = session(last_seen_at=T0 + timedelta(hours=2))
    assert s.live(T0 + timedelta(hours=2, minutes=59, seconds=59))
    assert not s.live(T0 + timedelta(hours=3))


def test_session_lives_at_most_a_day() -> None:
    """R-30: a session seen a moment ago still ends 24 hours after it began."""
    at = T0 + timedelta(hours=24)
    assert session(last_seen_at=at - timedelta(minutes=1)).live(at - timedelta(seconds=1))
    assert not session(last_seen_at=at - timedelta(minutes=1)).live(at)


def test_ended_session_is_not_live() -> None:
    assert session().live(T0)
    assert not session(ended_at=T0).live(T0)


def test_session_is_fresh_for_five_minutes_after_reauthentication() -> None:
    """R-27: sensitive changes need a full authentication within five minutes."""
    s = session(reauth_at=T0)
    assert s.fresh(T0)
    assert s.fresh(T0 + timedelta(minutes=5))
    assert not s.fresh(T0 + timedelta(minutes=5, microseconds=1))


def test_session_is_not_fresh_without_reauthentication_or_second_factor() -> None:
    """R-27: a session between password and second factor, or never fully
    authenticated, is not fresh."""
    assert not session(reauth_at=None).fresh(T0)
    assert not session(second_factor_due=True).fresh(T0)
