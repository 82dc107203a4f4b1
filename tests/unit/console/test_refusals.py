"""Separation-of-duties refusals in plain words on the help desk's pages (R-33):
each sentence matches a refusal the domain really makes, and says nothing when
the domain would let the operator act."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from custos.domain import sod
from custos.domain.errors import SeparationOfDuties
from custos.domain.model import (
    Approval,
    Case,
    Channel,
    CredentialAction,
    Operator,
    Requirements,
    RiskAssessment,
    Role,
    Subject,
)
from custos.domain.states import CaseState
from custos.service.console.refusals import OWN_ACCOUNT, sod_refusal

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SUBJECT = Subject(id="alice", display_name="Alice", groups=frozenset({"staff"}))


def op(name: str, *roles: Role, person: str | None = None) -> Operator:
    return Operator(
        id=name, name=name, person=person or name, roles=frozenset(roles), scope=frozenset("*")
    )


HANA = op("hana", Role.REQUESTER, Role.APPROVER)
LINUS = op("linus", Role.APPROVER, Role.EXECUTOR)
EDSGER = op("edsger", Role.EXECUTOR, Role.APPROVER)
ALICE_OP = op("alice-op", Role.REQUESTER, Role.APPROVER, Role.EXECUTOR, person="alice")


def case(*, approved_by: tuple[Operator, ...] = ()) -> Case:
    return Case(
        id="case-1",
        subject_id="alice",
        channel=Channel.HELPDESK,
        reason="locked out",
        state=CaseState.AWAITING_APPROVAL,
        opened_at=T0,
        updated_at=T0,
        expires_at=T0 + timedelta(hours=24),
        requirements=Requirements(
            tier="privileged",
            action=CredentialAction.RESET_TOKEN,
            channels=frozenset({Channel.HELPDESK}),
            factors=1,
            methods=frozenset({"totp"}),
            phishing_resistant=False,
            approvals=2,
            approver_groups=frozenset(),
            approval_expiry=timedelta(hours=4),
            token_ttl=timedelta(minutes=15),
            post_checks=(),
            required_targets=None,
            case_ttl=timedelta(hours=24),
            max_proofing_failures=3,
            policy_hash="sha256:test",
            policy_version=1,
            risk_band="low",
        ),
        risk=RiskAssessment(score=10, band="low", reasons=()),
        requested_by=HANA.actor,
        requester_person=HANA.person,
        approvals=[Approval(o.id, o.person, T0, "ok") for o in approved_by],
    )


@pytest.mark.parametrize(
    ("action", "operator", "facts", "words"),
    [
        (
            "execute",
            LINUS,
            case(approved_by=(LINUS,)),
            "You approved this case, so someone else must execute it.",
        ),
        ("execute", ALICE_OP, case(), OWN_ACCOUNT),
        ("proof", ALICE_OP, case(), OWN_ACCOUNT),
        ("cancel", ALICE_OP, case(), OWN_ACCOUNT),
    ],
)
def test_each_sentence_matches_a_refusal_of_the_domain(
    action: str, operator: Operator, facts: Case, words: str
) -> None:
    said = sod_refusal(action, case=facts, operator=operator, subject=SUBJECT)
    assert said is not None and said.startswith(words)
    with pytest.raises(SeparationOfDuties):
        if action == "execute":
            sod.check_executor(facts, operator, SUBJECT)
        else:
            sod.check_not_subject(operator, SUBJECT)


def test_nothing_is_said_when_the_domain_lets_the_operator_act() -> None:
    facts = case(approved_by=(LINUS,))
    sod.check_executor(facts, EDSGER, SUBJECT)  # raises nothing
    for action in ("execute", "proof", "cancel", "retry", "flag"):
        assert sod_refusal(action, case=facts, operator=EDSGER, subject=SUBJECT) is None
