"""Approvers in the console (docs/console.md#approvals): the inbox lists exactly
the cases waiting for the signed-in operator; approve and deny need a reason
and the session's CSRF token and are written to the ledger; separation-of-duties
refusals read as plain sentences (R-32, R-33)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from approval_world import awaiting_case, two_approvals_policy, world_on
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from sqlalchemy import select

from conftest import BACKENDS, World
from custos.domain.model import Role
from custos.service.recovery import cases
from custos.service.recovery.queries import case_detail
from custos.store.tables import ledger


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    world.operator("hana", Role.REQUESTER, Role.APPROVER)
    world.operator("linus", Role.APPROVER)
    with console_client(world) as c:
        yield c


def _events(world: World, case_id: str) -> list[dict[str, Any]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.case_id == case_id).order_by(ledger.c.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def _state(world: World, case_id: str) -> str:
    return str(case_detail(world.svc, None, case_id)["state"])


def _inbox_ids(client: TestClient) -> list[str]:
    page = client.get("/console/approvals")
    assert page.status_code == 200, page.text
    return re.findall(r'href="/console/approvals/([^"]+)"', page.text)


def _decide(
    client: TestClient, case_id: str, decision: str, reason: str, *, csrf: str | None = None
) -> Any:
    page = client.get(f"/console/approvals/{case_id}")
    token = csrf if csrf is not None else csrf_of(page.text)
    return client.post(
        f"/console/approvals/{case_id}",
        data={"csrf": token, "decision": decision, "reason": reason},
        follow_redirects=False,
    )


def test_the_inbox_lists_exactly_the_cases_waiting_for_the_approver(
    world: World, client: TestClient
) -> None:
    """Absent: the approver's own request, a case outside their scope, a case
    about them, a case still collecting proofs."""
    world.operator("mia", Role.REQUESTER, Role.APPROVER)
    world.operator("ada", Role.APPROVER, scope=("finance",))
    world.operator("olga", Role.APPROVER, person="olivia")
    by_hana = awaiting_case(world, "carl")
    by_mia = awaiting_case(world, "dora", requester="mia")
    about_olga = awaiting_case(world, "olivia")
    world.subject("paul", groups=("contractors",))
    still_proofing = cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id="paul", reason="caller locked out"
    ).id

    sign_in(client, world, "linus")
    assert sorted(_inbox_ids(client)) == sorted([by_hana, by_mia, about_olga])
    sign_in(client, world, "hana")
    assert _inbox_ids(client) == [by_mia]
    sign_in(client, world, "mia")
    assert sorted(_inbox_ids(client)) == sorted([by_hana, about_olga])
    sign_in(client, world, "olga")
    assert sorted(_inbox_ids(client)) == sorted([by_hana, by_mia])
    sign_in(client, world, "ada")
    page = client.get("/console/approvals")
    assert _inbox_ids(client) == []
    assert "No case waits for your approval." in page.text
    sign_in(client, world, "linus")
    assert still_proofing not in client.get("/console/approvals").text
    early = client.get(f"/console/approvals/{still_proofing}")
    assert "This case does not wait for approval yet" in early.text
    assert 'name="decision"' not in early.text


def test_the_case_page_shows_what_the_approver_weighs(world: World, client: TestClient) -> None:
    case_id = awaiting_case(world, "carl", reason="caller lost phone in Lisbon")
    sign_in(client, world, "linus")
    page = client.get(f"/console/approvals/{case_id}")
    assert page.status_code == 200, page.text
    text = page.text
    for expected in (
        "Carl (carl)",  # subject
        "caller lost phone in Lisbon",  # the requester's reason
        ">hana<",  # requester by name
        "contractor",  # tier
        "Risk reasons",
        ">totp<",  # the proof done
        "passed",
        "one-time link",  # the credential action
        "<td>directory</td><td>carl</td>",  # the system and account that will change
        "Approvals so far (0 of 1)",
        'name="decision" value="approve"',
        'name="decision" value="deny"',
    ):
        assert expected in text, expected
    assert world.totp_secrets["carl"] not in text


def test_approving_with_a_reason_writes_the_approval_to_the_ledger(
    world: World, client: TestClient
) -> None:
    case_id = awaiting_case(world, "carl")
    sign_in(client, world, "linus")
    answer = _decide(client, case_id, "approve", "called back on the HR number")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/approvals/{case_id}?done=approved"
    assert _state(world, case_id) == "approved"
    granted = [e for e in _events(world, case_id) if e["type"] == "case:approval:granted"]
    assert len(granted) == 1
    assert granted[0]["actor"] == world.operators["linus"].actor
    assert granted[0]["reason"] == "called back on the HR number"
    after = client.get(f"/console/approvals/{case_id}?done=approved")
    assert "Your approval is recorded." in after.text
    assert "This case no longer waits for a decision (it is approved)." in after.text
    assert _inbox_ids(client) == []


def test_denying_with_a_reason_ends_the_case_in_the_ledger(
    world: World, client: TestClient
) -> None:
    case_id = awaiting_case(world, "carl")
    sign_in(client, world, "linus")
    answer = _decide(client, case_id, "deny", "caller could not name their manager")
    assert answer.status_code == 303
    assert _state(world, case_id) == "denied"
    moves = [
        e
        for e in _events(world, case_id)
        if e["type"] == "case:case:state_changed" and e["data"]["to"] == "denied"
    ]
    assert len(moves) == 1
    assert moves[0]["actor"] == world.operators["linus"].actor
    assert moves[0]["reason"] == "caller could not name their manager"
    after = client.get(f"/console/approvals/{case_id}?done=denied")
    assert "You denied this case." in after.text
    # The notice tells only what this operator did: a crafted link cannot fake it.
    assert (
        "Your approval is recorded."
        not in client.get(f"/console/approvals/{case_id}?done=approved").text
    )


@pytest.mark.parametrize("decision", ["approve", "deny"])
def test_a_decision_without_a_reason_is_refused_clearly(
    world: World, client: TestClient, decision: str
) -> None:
    case_id = awaiting_case(world, "carl")
    before = len(_events(world, case_id))
    sign_in(client, world, "linus")
    answer = _decide(client, case_id, decision, "   ")
    assert answer.status_code == 422
    assert "Give the reason for your decision." in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert _state(world, case_id) == "awaiting_approval"
    assert len(_events(world, case_id)) == before


def test_a_decision_without_the_csrf_token_is_refused(world: World, client: TestClient) -> None:
    case_id = awaiting_case(world, "carl")
    sign_in(client, world, "linus")
    forged = _decide(client, case_id, "approve", "fine", csrf="0" * 64)
    assert forged.status_code == 403
    assert "csrf_refused" in forged.text
    missing = client.post(
        f"/console/approvals/{case_id}", data={"decision": "approve", "reason": "fine"}
    )
    assert missing.status_code == 403
    assert "csrf_refused" in missing.text
    assert _state(world, case_id) == "awaiting_approval"


def test_the_requester_reads_why_they_cannot_approve(world: World, client: TestClient) -> None:
    """R-32: hana opened the case; holding the approver role does not let her approve it."""
    case_id = awaiting_case(world, "carl")
    sign_in(client, world, "hana")
    sentence = "You opened this case; a different person must approve it."
    page = client.get(f"/console/approvals/{case_id}")
    assert sentence in page.text
    assert 'name="decision"' not in page.text
    refused = client.post(
        f"/console/approvals/{case_id}",
        data={"csrf": csrf_of(page.text), "decision": "approve", "reason": "looks fine"},
    )
    assert refused.status_code == 403
    assert sentence in refused.text
    assert 'role="alert"' in refused.text
    assert _state(world, case_id) == "awaiting_approval"


def test_the_subject_reads_that_the_case_is_about_them(world: World, client: TestClient) -> None:
    world.operator("olga", Role.APPROVER, person="olivia")
    case_id = awaiting_case(world, "olivia")
    sign_in(client, world, "olga")
    page = client.get(f"/console/approvals/{case_id}")
    assert "This case is about you" in page.text
    refused = client.post(
        f"/console/approvals/{case_id}",
        data={"csrf": csrf_of(page.text), "decision": "deny", "reason": "no"},
    )
    assert refused.status_code == 403
    assert "This case is about you" in refused.text
    assert _state(world, case_id) == "awaiting_approval"


def test_a_case_outside_the_scope_answers_404(world: World, client: TestClient) -> None:
    world.operator("ada", Role.APPROVER, scope=("finance",))
    case_id = awaiting_case(world, "carl")
    sign_in(client, world, "ada")
    page = client.get(f"/console/approvals/{case_id}")
    assert page.status_code == 404
    assert "Error id: not_found" in page.text
    unknown = client.get("/console/approvals/case-20260101-0000000000")
    assert unknown.status_code == 404
    assert page.text.replace(case_id, "X") == unknown.text.replace("case-20260101-0000000000", "X")


def test_an_operator_without_the_approver_role_is_refused(world: World, client: TestClient) -> None:
    world.operator("ray", Role.REQUESTER)
    sign_in(client, world, "ray")
    page = client.get("/console/approvals")
    assert page.status_code == 403
    assert "Error id: not_authorized" in page.text


@pytest.fixture(params=BACKENDS)
def dual(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    """A world whose contractors need two approvers."""
    with world_on(request.param, tmp_path, policy_file=two_approvals_policy(tmp_path)) as world:
        world.operator("linus", Role.APPROVER)
        world.operator("grace", Role.APPROVER)
        yield world


def test_one_approver_counts_once_and_reads_that_a_second_is_needed(dual: World) -> None:
    """R-33: after approving, the case leaves the approver's inbox and their page
    says a second approver is needed; a second try is refused in those words."""
    case_id = awaiting_case(dual, "carl")
    with console_client(dual) as client:
        sign_in(client, dual, "linus")
        assert _inbox_ids(client) == [case_id]
        assert _decide(client, case_id, "approve", "checked").status_code == 303
        assert _inbox_ids(client) == []
        page = client.get(f"/console/approvals/{case_id}")
        sentence = "You already approved this case; a second approver is needed."
        assert sentence in page.text
        assert "Approvals so far (1 of 2)" in page.text
        again = client.post(
            f"/console/approvals/{case_id}",
            data={"csrf": csrf_of(page.text), "decision": "approve", "reason": "again"},
        )
        assert again.status_code == 403
        assert sentence in again.text
        assert _state(dual, case_id) == "awaiting_approval"
        sign_in(client, dual, "grace")
        assert _inbox_ids(client) == [case_id]
        assert _decide(client, case_id, "approve", "checked too").status_code == 303
    assert _state(dual, case_id) == "approved"
