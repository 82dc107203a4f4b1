"""The help desk's subject pages in the console (docs/console.md#help-desk):
search within scope, a subject's page, opening a case with a reason and a
ticket reference."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from sqlalchemy import select
from webauthn_authenticator import enrol_webauthn

from conftest import World
from custos.domain.model import Contact, ContactKind, Hold, Role
from custos.store.tables import cases, ledger


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    world.subject("alice", groups=("staff",), with_totp=True, codes=3)
    world.subject("alfred", groups=("staff",))
    world.subject("alma", groups=("finance",))  # outside hana's scope
    world.operator("hana", Role.REQUESTER, scope=("staff",))
    with console_client(world) as c:
        sign_in(c, world, "hana")
        yield c


def _opened_events(world: World) -> list[dict[str, object]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == "case:case:opened")
        ).scalars()
        return [json.loads(r) for r in rows]


def test_search_lists_only_subjects_in_scope(client: TestClient) -> None:
    """R-33: out-of-scope subjects never appear, not even in the count."""
    page = client.get("/console/subjects", params={"q": "al"})
    assert page.status_code == 200, page.text
    assert "/console/subjects/alice" in page.text
    assert "/console/subjects/alfred" in page.text
    assert "alma" not in page.text
    assert "2 subjects found" in page.text
    everyone = client.get("/console/subjects")
    assert "alma" not in everyone.text
    assert "2 subjects found" in everyone.text


def test_search_matches_names_and_account_ids_case_insensitively(client: TestClient) -> None:
    page = client.get("/console/subjects", params={"q": "ALFR"})
    assert "/console/subjects/alfred" in page.text
    assert "/console/subjects/alice" not in page.text
    assert "1 subject found" in page.text
    nothing = client.get("/console/subjects", params={"q": "alma"})
    assert "0 subjects found" in nothing.text


def test_search_treats_like_wildcards_as_text(client: TestClient) -> None:
    page = client.get("/console/subjects", params={"q": "%"})
    assert "0 subjects found" in page.text


def test_live_search_answers_the_results_fragment(client: TestClient) -> None:
    fragment = client.get(
        "/console/subjects",
        params={"q": "ali"},
        headers={"HX-Request": "true", "HX-Target": "results"},
    )
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith("{#") is False
    assert '<section id="results"' in fragment.text
    assert "<html" not in fragment.text
    assert "/console/subjects/alice" in fragment.text


def test_search_refuses_undeclared_parameters(client: TestClient) -> None:
    assert client.get("/console/subjects", params={"query": "x"}).status_code == 422


def test_subject_page_shows_accounts_methods_and_masked_contacts(
    world: World, client: TestClient
) -> None:
    enrol_webauthn(world, "alice", label="blue key")
    page = client.get("/console/subjects/alice")
    assert page.status_code == 200, page.text
    html = page.text
    assert "directory" in html and "alice" in html  # the linked account
    assert "webauthn “blue key”" in html
    assert "Saved recovery codes left: 3" in html
    assert "a***@example.org" in html
    assert "alice@example.org" not in html  # contacts are masked
    assert "standard" in html  # the tier, and why
    assert "employment is employee" in html
    # No secret: the TOTP secret and the saved codes of the world are absent.
    assert world.totp_secrets["alice"] not in html
    for code in world.recovery_codes["alice"]:
        assert code not in html


def test_subject_page_shows_holds_and_the_blocking_tier(world: World, client: TestClient) -> None:
    world.subject("alfie", groups=("staff",), holds=(Hold.INCIDENT_FREEZE,))
    page = client.get("/console/subjects/alfie")
    assert "Incident freeze" in page.text
    assert "This tier blocks every recovery." in page.text


def test_subject_outside_scope_answers_like_a_missing_one(client: TestClient) -> None:
    outside = client.get("/console/subjects/alma")
    missing = client.get("/console/subjects/nobody")
    assert outside.status_code == missing.status_code == 404
    assert "Error id: not_found" in outside.text
    assert outside.text.replace("alma", "X") == missing.text.replace("nobody", "X")


def test_opening_a_case_records_reason_and_ticket(world: World, client: TestClient) -> None:
    csrf = csrf_of(client.get("/console/subjects/alice").text)
    answer = client.post(
        "/console/subjects/alice/cases",
        data={"csrf": csrf, "reason": "caller lost phone", "ticket": "INC-4711"},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith("/console/cases/case-") and location.endswith("?notice=opened")
    page = client.get(location)
    assert "Case opened." in page.text
    assert "INC-4711" in page.text
    opened = _opened_events(world)[-1]
    assert opened["data"] == {"channel": "helpdesk", "ticket": "INC-4711"}
    assert opened["reason"] == "caller lost phone"
    assert "/console/cases/" in client.get("/console/subjects/alice").text  # now an open case


def test_opening_a_case_needs_a_reason_and_a_ticket(world: World, client: TestClient) -> None:
    csrf = csrf_of(client.get("/console/subjects/alice").text)
    no_ticket = client.post(
        "/console/subjects/alice/cases", data={"csrf": csrf, "reason": "locked out"}
    )
    assert no_ticket.status_code == 422
    assert "Opening a case needs a ticket reference." in no_ticket.text
    assert "Error id: invalid_input" in no_ticket.text  # as every console refusal names it
    assert "locked out" in no_ticket.text  # the form keeps what was typed
    no_reason = client.post(
        "/console/subjects/alice/cases", data={"csrf": csrf, "reason": " ", "ticket": "T-1"}
    )
    assert no_reason.status_code == 422
    assert "needs a reason" in no_reason.text
    bad_ticket = client.post(
        "/console/subjects/alice/cases",
        data={"csrf": csrf, "reason": "locked out", "ticket": "<script>"},
    )
    assert bad_ticket.status_code == 422
    assert "ticket reference" in bad_ticket.text
    with world.svc.engine.connect() as conn:
        assert conn.execute(select(cases.c.id)).first() is None


def test_opening_a_case_without_the_csrf_token_is_refused(world: World, client: TestClient) -> None:
    answer = client.post(
        "/console/subjects/alice/cases",
        data={"csrf": "0" * 64, "reason": "locked out", "ticket": "T-1"},
    )
    assert answer.status_code == 403
    assert "csrf_refused" in answer.text
    with world.svc.engine.connect() as conn:
        assert conn.execute(select(cases.c.id)).first() is None


def test_opening_a_case_outside_scope_is_not_found(world: World, client: TestClient) -> None:
    csrf = csrf_of(client.get("/console/subjects/alice").text)
    answer = client.post(
        "/console/subjects/alma/cases",
        data={"csrf": csrf, "reason": "locked out", "ticket": "T-1"},
    )
    assert answer.status_code == 404
    with world.svc.engine.connect() as conn:
        assert conn.execute(select(cases.c.id)).first() is None


def test_a_blocked_request_is_recorded_and_shown_as_such(world: World, client: TestClient) -> None:
    world.subject("alfie", groups=("staff",), holds=(Hold.LEGAL_HOLD,))
    csrf = csrf_of(client.get("/console/subjects/alfie").text)
    answer = client.post(
        "/console/subjects/alfie/cases",
        data={"csrf": csrf, "reason": "locked out", "ticket": "T-9"},
    )
    assert answer.status_code == 200
    assert "the policy blocks this recovery" in answer.text
    assert "blocked" in answer.text


def test_an_operator_cannot_open_a_case_for_their_own_account(world: World) -> None:
    world.subject("sam", groups=("staff",))
    world.operator("sam-op", Role.REQUESTER, person="sam")
    with console_client(world) as c:
        sign_in(c, world, "sam-op")
        page = c.get("/console/subjects/sam")
        assert "This is your own account" in page.text
        assert 'action="/console/subjects/sam/cases"' not in page.text


def test_phone_contacts_are_masked_to_their_last_digits(world: World, client: TestClient) -> None:
    with world.svc.uow() as uow:
        subject = uow.subjects.get("alfred")
        assert subject is not None
        subject.contacts = (*subject.contacts, Contact(ContactKind.SMS, "+491701234567", True))
        uow.subjects.update(subject, now=world.clock.now())
        uow.commit()
    html = client.get("/console/subjects/alfred").text
    assert "***67" in html
    assert "1701234567" not in html
