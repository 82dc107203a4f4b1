"""The 800-63B-4 §4.2 recovery rules as pure functions (R-1, R-2, R-3)."""

from __future__ import annotations

import pytest

from custos.domain.recovery_rules import ProofKind, recovery_complete, tier_problems
from custos.proofing.base import METHODS

SAVED = ("recovery_code", ProofKind.SAVED_CODE)
ISSUED = ("email_code", ProofKind.ISSUED_CODE)
TOTP = ("totp", ProofKind.AUTHENTICATOR)
REPROOF = ("reproofing", ProofKind.REPROOFING)
AGENT = ("agent_challenge", ProofKind.ASSISTED)


def kinds(*names: str) -> dict[str, ProofKind]:
    return {n: METHODS[n].kind for n in names}


def test_no_stated_aal_applies_no_combination_rule() -> None:
    assert recovery_complete(None, [AGENT])


@pytest.mark.parametrize(("passed", "ok"), [([SAVED], True), ([ISSUED], True), ([TOTP], False)])
def test_aal1_recovers_only_by_codes(passed: list[tuple[str, ProofKind]], ok: bool) -> None:
    """R-1: saved code, issued code or recovery contact."""
    assert recovery_complete(1, passed) is ok


@pytest.mark.parametrize(
    ("passed", "ok"),
    [
        ([ISSUED], False),
        ([TOTP], False),
        ([AGENT, TOTP], False),
        ([SAVED, ISSUED], True),
        ([ISSUED, TOTP], True),
        ([REPROOF], True),
        ([("email_code", None)], False),
    ],
    ids=[
        "one-code",
        "authenticator",
        "assisted",
        "two-codes",
        "code-and-factor",
        "reproof",
        "none",
    ],
)
def test_aal2_needs_two_codes_code_and_factor_or_reproofing(
    passed: list[tuple[str, ProofKind | None]], ok: bool
) -> None:
    """R-2: one code alone is a step-up, not a recovery."""
    assert recovery_complete(2, passed) is ok


def test_aal3_needs_reproofing() -> None:
    """R-3."""
    assert not recovery_complete(3, [SAVED, ISSUED, TOTP])
    assert recovery_complete(3, [REPROOF])


def test_helpdesk_without_risk_analysis_is_a_problem() -> None:
    """R-1: the help-desk channel and assisted methods need a documented risk analysis."""
    base = {"aal": None, "factors": 1, "min_ial": None, "risk_analysis": None}
    assert tier_problems(methods=kinds("totp"), channels=["helpdesk"], **base)[0][0] == (
        "risk_analysis"
    )
    assert tier_problems(methods=kinds("agent_challenge"), channels=["self_service"], **base)
    assert not tier_problems(methods=kinds("totp"), channels=["self_service"], **base)


def test_aal1_tier_with_authenticator_is_a_problem() -> None:
    problems = tier_problems(
        aal=1,
        methods=kinds("totp", "email_code"),
        factors=1,
        channels=["self_service"],
        min_ial=None,
        risk_analysis=None,
    )
    assert problems == [
        (
            "proofing",
            "an AAL1 tier recovers only by saved code, issued code or recovery contact; "
            "remove totp (R-1)",
        )
    ]


def test_aal3_tier_offering_self_service_is_a_problem() -> None:
    problems = tier_problems(
        aal=3,
        methods=kinds("reproofing"),
        factors=1,
        channels=["self_service"],
        min_ial=3,
        risk_analysis=None,
    )
    assert [key for key, _ in problems] == ["channels"]
