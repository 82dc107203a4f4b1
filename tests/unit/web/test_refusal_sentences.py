"""Separation-of-duties refusals in the console read as sentences a person
understands (docs/console.md#approvals): one per rule the domain names (R-32, R-33)."""

from __future__ import annotations

import pytest

from custos.domain.errors import (
    AlreadyDecided,
    DomainError,
    InvalidInput,
    NotAuthorized,
    OutOfScope,
    SeparationOfDuties,
)
from custos.web.console.refusals import RULES, plain_refusal


@pytest.mark.parametrize(
    ("rule", "sentence"),
    [
        ("requester", "You opened this case; a different person must approve it."),
        ("own_case", "This case is about you"),
        ("already_approved", "You already approved this case; a second approver is needed."),
        ("executor", "You carried out this case; a different person must approve it."),
        ("approver_executes", "You approved this case, so you cannot carry it out."),
    ],
)
def test_each_separation_rule_has_its_sentence(rule: str, sentence: str) -> None:
    said = plain_refusal(SeparationOfDuties("domain words", rule=rule))
    assert said.startswith(sentence)
    assert "domain words" not in said


def test_every_rule_the_domain_names_is_worded() -> None:
    assert set(RULES) == {
        "own_case",
        "requester",
        "executor",
        "already_approved",
        "approver_executes",
    }


def test_approver_groups_are_named() -> None:
    exc = NotAuthorized("x", rule="approver_groups", groups=["iam", "sec"])
    assert plain_refusal(exc, tier="privileged") == (
        "Approvals for tier 'privileged' must come from a member of: iam, sec. "
        "You are not in any of these groups."
    )


@pytest.mark.parametrize(
    ("exc", "state", "sentence"),
    [
        (
            AlreadyDecided("x", state="approved"),
            "",
            "This case no longer waits for a decision (it is approved).",
        ),
        (
            AlreadyDecided("x"),
            "awaiting_approval",
            "This case no longer waits for a decision (it is awaiting approval).",
        ),
        (
            AlreadyDecided("x", state="proofing"),
            "",
            "This case does not wait for approval yet: its proofs are still being collected.",
        ),
        (OutOfScope("x"), "", "This case's subject is outside your scope."),
        (NotAuthorized("x", role="approver"), "", "You do not hold the approver role."),
        (InvalidInput("something else went wrong"), "", "Something else went wrong."),
    ],
)
def test_other_refusals(exc: DomainError, state: str, sentence: str) -> None:
    assert plain_refusal(exc, state=state) == sentence
