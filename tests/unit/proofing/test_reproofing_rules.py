"""Pure rules of re-proofing results: evidence strength per IAL (R-9, R-10),
attended biometric IAL3 (R-11), the account's IAL (R-4), attribute digests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from custos.proofing.reproofing import (
    Evidence,
    ProofingResult,
    ReproofingRejected,
    Strength,
    attribute_digest,
    check_result,
    evidence_ial,
    mismatched_attributes,
    parse_claims,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
KEY = b"k" * 32
RESULT = ProofingResult(
    issuer="https://idv.example.net",
    jti="j-1",
    ial=2,
    attended=False,
    biometric_comparison=False,
    evidence=(Evidence(Strength.STRONG), Evidence(Strength.FAIR)),
    attributes={"given_name": "Bob"},
    issued_at=NOW - timedelta(seconds=5),
    expires_at=NOW + timedelta(minutes=5),
)


def check(result: ProofingResult, *, account_ial: int = 1, min_ial: int | None = None) -> None:
    check_result(
        result, now=NOW, max_age=timedelta(minutes=10), account_ial=account_ial, min_ial=min_ial
    )


@pytest.mark.parametrize(
    ("evidence", "ial"),
    [
        ((), 0),
        ((Evidence(Strength.FAIR),), 1),
        ((Evidence(Strength.STRONG),), 1),
        ((Evidence(Strength.STRONG), Evidence(Strength.FAIR)), 2),
        ((Evidence(Strength.SUPERIOR, cryptographically_verified=True),), 2),
        ((Evidence(Strength.SUPERIOR),), 1),
    ],
)
def test_evidence_supports_ial(evidence: tuple[Evidence, ...], ial: int) -> None:
    """R-9: one FAIR for IAL1; R-10: FAIR + STRONG, or a verified SUPERIOR (an
    unverified one counts as STRONG) for IAL2."""
    assert evidence_ial(evidence) == ial


def test_result_below_account_ial_is_rejected() -> None:
    """R-4."""
    with pytest.raises(ReproofingRejected, match="below the IAL2"):
        check(replace(RESULT, ial=1, evidence=(Evidence(Strength.FAIR),)), account_ial=2)


def test_result_below_tier_min_ial_is_rejected() -> None:
    with pytest.raises(ReproofingRejected, match="below the IAL3"):
        check(RESULT, account_ial=1, min_ial=3)


def test_remote_unattended_ial3_is_rejected() -> None:
    """R-11."""
    with pytest.raises(ReproofingRejected, match="remote unattended"):
        check(replace(RESULT, ial=3, attended=False, biometric_comparison=True))
    check(replace(RESULT, ial=3, attended=True, biometric_comparison=True), account_ial=3)


def test_attributes_match_after_normalisation_and_never_when_none_on_file() -> None:
    stored = {"given_name": attribute_digest(KEY, subject_id="bob", name="given_name", value="Bob")}
    assert (
        mismatched_attributes(KEY, subject_id="bob", stored=stored, claimed={"given_name": " BOB"})
        == []
    )
    assert mismatched_attributes(
        KEY, subject_id="eve", stored=stored, claimed={"given_name": "Bob"}
    ) == ["given_name"]
    assert mismatched_attributes(KEY, subject_id="bob", stored={}, claimed={"given_name": "Bob"})


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"iss": "i", "jti": "j", "ial": True},
        {"iss": "i", "jti": "j", "ial": 2, "evidence": [{"strength": "GREAT"}]},
    ],
)
def test_malformed_claims_are_rejected(claims: dict[str, object]) -> None:
    with pytest.raises(ReproofingRejected):
        parse_claims(claims)
