"""The 800-63B-4 §4.2 recovery rules as pure functions (R-1, R-2, R-3)."""

from __future__ import annotations

from functools import partial

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
    base = partial(tier_problems, aal=None, factors=1, min_ial=None, risk_analysis=None)
    assert base(methods=kinds("totp"), channels=["helpdesk"])[0][0] == "risk_analysis"
    assert base(methods=kinds("agent_challenge"), channels=["self_service"])
    assert not base(methods=kinds("totp"), channels=["self_service"])


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


def problems_of(
    aal: int, names: tuple[str, ...], *, factors: int = 2, min_ial: int | None = None
) -> list[tuple[str, str]]:
    """``tier_problems`` of an attended tier (no self-service) with a risk analysis."""
    return tier_problems(
        aal=aal,
        methods=kinds(*names),
        factors=factors,
        channels=["helpdesk"],
        min_ial=min_ial,
        risk_analysis="RA-7",
    )


def test_aal3_tier_with_reproofing_at_ial3_is_sound() -> None:
    """R-3: re-proofing at IAL3, attended, is the one sound AAL3 tier."""
    assert problems_of(3, ("reproofing",), factors=1, min_ial=3) == []


@pytest.mark.parametrize("min_ial", [None, 1, 2], ids=["absent", "ial1", "ial2"])
def test_aal3_tier_with_reproofing_below_ial3_is_a_problem(min_ial: int | None) -> None:
    """R-3, R-11: an AAL3 tier re-proofs at IAL3; below it (or unstated) it is refused."""
    problems = problems_of(3, ("reproofing",), factors=1, min_ial=min_ial)
    assert problems == [
        (
            "proofing",
            "an AAL3 tier needs 'reproofing' with min_ial 3 "
            "(attended, biometric comparison) (R-3, R-11)",
        )
    ]


def test_aal3_tier_without_reproofing_is_a_problem() -> None:
    """R-3: codes and authenticators never recover an AAL3 account."""
    problems = problems_of(3, ("recovery_code", "email_code", "webauthn"), factors=3)
    assert [key for key, _ in problems] == ["proofing"]
    assert "min_ial 3" in problems[0][1]


def test_aal2_tier_that_can_never_recover_is_a_problem() -> None:
    """R-2: authenticators alone (no code, no re-proofing) can never make an AAL2
    recovery, whatever ``factors`` says."""
    problems = problems_of(2, ("totp", "webauthn"), factors=2)
    assert problems == [
        (
            "proofing",
            "an AAL2 tier needs two code methods, a code and an authenticator, "
            "or reproofing among its methods (R-2)",
        )
    ]


def test_aal2_tier_with_assisted_methods_only_is_a_problem() -> None:
    """R-2: help-desk methods never make an AAL2 combination on their own."""
    problems = problems_of(2, ("manager_attestation", "agent_challenge"), factors=2)
    assert [key for key, _ in problems] == ["proofing"]
    assert "(R-2)" in problems[0][1]


@pytest.mark.parametrize(
    "names",
    [("recovery_code", "email_code"), ("email_code", "totp"), ("recovery_code", "webauthn")],
    ids=["two-codes", "code-and-totp", "code-and-webauthn"],
)
def test_aal2_tier_with_two_factors_is_sound(names: tuple[str, ...]) -> None:
    """R-2: two codes, or a code and an authenticator, with factors 2 and no
    re-proofing, is a sound AAL2 tier: the boundary sits at two factors."""
    assert problems_of(2, names, factors=2) == []


@pytest.mark.parametrize(
    "names",
    [("recovery_code", "email_code"), ("email_code", "totp")],
    ids=["two-codes", "code-and-totp"],
)
def test_aal2_tier_with_one_factor_is_a_problem(names: tuple[str, ...]) -> None:
    """R-2: the same sound tier asking one factor is a step-up, not a recovery."""
    assert problems_of(2, names, factors=1) == [
        ("proofing", "one code alone is a step-up, not an AAL2 recovery: factors >= 2 (R-2)")
    ]


@pytest.mark.parametrize(
    "names",
    [("manager_attestation",), ("agent_challenge",), ("recovery_code", "manager_attestation")],
    ids=["attestation-alone", "agent-alone", "code-and-attestation"],
)
def test_aal1_tier_with_helpdesk_attestation_is_a_problem(names: tuple[str, ...]) -> None:
    """R-1: an AAL1 tier does not accept a help-desk attestation as a factor."""
    problems = problems_of(1, names, factors=1)
    assert [key for key, _ in problems] == ["proofing"]
    assert problems[0][1].startswith("an AAL1 tier recovers only by saved code")


def test_aal1_tier_with_codes_only_is_sound() -> None:
    """R-1: saved codes and issued codes (recovery contact) recover an AAL1 account."""
    assert problems_of(1, ("recovery_code", "email_code", "sms_code"), factors=1) == []


def test_aal1_recovery_refuses_assisted_proofs() -> None:
    """R-1: a passed help-desk attestation alone does not recover an AAL1 account."""
    assert not recovery_complete(1, [("manager_attestation", ProofKind.ASSISTED)])
    assert not recovery_complete(1, [("manager_attestation", None)])
    assert not recovery_complete(1, [])


def test_aal2_recovery_needs_two_distinct_code_methods() -> None:
    """R-2: the same code method passed twice is still one code."""
    assert not recovery_complete(2, [ISSUED, ISSUED])
    assert recovery_complete(2, [SAVED, ("sms_code", ProofKind.ISSUED_CODE)])


def test_aal3_recovery_refuses_everything_but_reproofing() -> None:
    """R-3: neither assisted proofs nor codes recover an AAL3 account."""
    assert not recovery_complete(3, [AGENT, SAVED, TOTP])
    assert not recovery_complete(3, [])
    assert recovery_complete(3, [AGENT, REPROOF])


def test_min_ial_with_reproofing_is_sound() -> None:
    """R-4: min_ial is stated together with re-proofing."""
    base = partial(
        tier_problems, aal=None, factors=1, channels=["self_service"], risk_analysis=None
    )
    assert base(methods=kinds("reproofing"), min_ial=2) == []
    assert base(methods=kinds("totp"), min_ial=2) == [
        ("proofing", "min_ial needs 'reproofing' among the methods (R-4)")
    ]


def test_helpdesk_risk_analysis_blank_is_a_problem() -> None:
    """R-1: a blank risk-analysis reference is no reference; the reason names the
    channel or the assisted methods."""
    base = partial(tier_problems, aal=None, factors=1, min_ial=None)
    channel = base(methods=kinds("totp"), channels=["helpdesk"], risk_analysis="  ")
    assert channel == [
        ("risk_analysis", "the help-desk channel needs a documented risk analysis reference (R-1)")
    ]
    assisted = base(
        methods=kinds("manager_attestation", "agent_challenge"),
        channels=["self_service"],
        risk_analysis=None,
    )
    assert assisted == [
        (
            "risk_analysis",
            "agent_challenge, manager_attestation needs a documented risk analysis reference (R-1)",
        )
    ]
    assert not base(methods=kinds("agent_challenge"), channels=["helpdesk"], risk_analysis="RA-7")


def test_problem_reasons_name_every_offending_method_and_channel() -> None:
    """R-1, R-3: the reasons `custos policy check` prints name what to remove."""
    assert problems_of(1, ("webauthn", "totp", "recovery_code"), factors=1) == [
        (
            "proofing",
            "an AAL1 tier recovers only by saved code, issued code or recovery contact; "
            "remove totp, webauthn (R-1)",
        )
    ]
    attended = tier_problems(
        aal=3,
        methods=kinds("reproofing"),
        factors=1,
        channels=["self_service", "helpdesk"],
        min_ial=3,
        risk_analysis="RA-7",
    )
    assert attended == [
        ("channels", "an AAL3 tier recovers only attended: remove self_service (R-3)")
    ]
