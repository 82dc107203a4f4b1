"""The help desk's case page in the console (docs/console.md#help-desk): each
action through its form, with its effect on the case; CSRF on every form;
separation-of-duties refusals in plain words; scope; no secret on any page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from console_cases import Desk
from console_helpers import console_client, csrf_of, sign_in
from recoveries import PASSWORD, Refusing
from sqlalchemy import func, select
from webauthn_authenticator import ORIGIN, enrol_webauthn, last_webauthn_link

from conftest import World
from custos.connectors.builtin import BuiltinDirectory
from custos.demo.soft_authenticator import b64
from custos.domain.model import Employment, Hold, Role
from custos.service.ceremonies import attestation, webauthn_proofing
from custos.service.recovery import cases, credentials
from custos.store.tables import ledger


@pytest.fixture
def desks(world: World) -> Iterator[dict[str, Desk]]:
    """Signed-in consoles: hana (help desk), edsger (executor), linus (approver
    who may also execute), olga (help desk for finance only)."""
    world.operator("hana", Role.REQUESTER)
    world.operator("edsger", Role.EXECUTOR)
    world.operator("linus", Role.APPROVER, Role.EXECUTOR)
    world.operator("olga", Role.REQUESTER, scope=("finance",))
    with ExitStack() as stack:
        found = {}
        for name in ("hana", "edsger", "linus", "olga"):
            client = stack.enter_context(console_client(world))
            sign_in(client, world, name)
            found[name] = Desk(client)
        yield found


def _state(world: World, case_id: str) -> str:
    with world.svc.uow() as uow:
        return str(uow.cases.get(case_id).state)


def _ledger_size(world: World) -> int:
    with world.svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(ledger)).scalar_one())


def _mail_token(world: World, subject_id: str, kind: str, marker: str) -> str:
    body = str(world.mail(f"{subject_id}@example.org", kind)[-1]["body"])
    return body.split(marker)[1].split()[0]


def _contractor_with_sponsor(world: World) -> None:
    world.subject("mike")
    subject = world.subject(
        "carl", employment=Employment.CONTRACTOR, groups=("contractors",), with_totp=True
    )
    subject.sponsor = "mike"
    with world.svc.uow() as uow:
        uow.subjects.update(subject, now=world.clock.now())
        uow.commit()


def test_a_code_the_caller_reads_proves_the_case(world: World, desks: dict[str, Desk]) -> None:
    world.subject("alice", with_totp=True)
    hana = desks["hana"]
    case_id = hana.open_case("alice")
    page = hana.act(case_id, "proofs", method="totp", response=world.totp_now("alice"))
    assert page.status_code == 200, page.text
    assert "The evidence matched" in page.text
    assert _state(world, case_id) == "approved"  # standard tier, low risk: no approval
    assert "1 of 1 distinct method passed (totp)" in page.text


def test_a_wrong_code_is_recorded_as_a_failed_proof(world: World, desks: dict[str, Desk]) -> None:
    world.subject("alice", with_totp=True)
    hana = desks["hana"]
    case_id = hana.open_case("alice")
    page = hana.act(case_id, "proofs", method="totp", response="000000")
    assert "The evidence did not match" in page.text
    assert "1 of 5 allowed" in page.text
    assert _state(world, case_id) == "proofing"


def test_an_emailed_code_is_sent_then_typed_never_shown(
    world: World, desks: dict[str, Desk]
) -> None:
    """R-34: the agent sends the code and types what the caller reads; the code
    itself is never on the agent's screen."""
    world.subject("alice")
    hana = desks["hana"]
    case_id = hana.open_case("alice")
    sent = hana.act(case_id, "email-code")
    assert "A code went to the subject&#39;s confirmed email addresses" in sent.text
    assert "code sent at" in sent.text
    code = world.last_code("alice")
    page = hana.act(case_id, "proofs", method="email_code", response=code)
    assert "The evidence matched" in page.text
    assert all(code not in html for html in hana.pages)


def test_a_pasted_reproofing_result_is_checked_like_any_proof(
    world: World, desks: dict[str, Desk]
) -> None:
    """A result that is not a signed provider result fails, and is recorded."""
    world.subject("root", privileged=True, groups=("it-admins",))
    hana = desks["hana"]
    case_id = hana.open_case("root")
    page = hana.act(case_id, "proofs", method="reproofing", response="not.a.result")
    assert "The evidence did not match" in page.text
    with world.svc.uow() as uow:
        proofs = uow.cases.get(case_id).proofs
    assert [(p.method, p.passed) for p in proofs] == [("reproofing", False)]


def test_a_method_the_tier_does_not_allow_is_refused_with_its_reason(
    world: World, desks: dict[str, Desk]
) -> None:
    world.subject("alice")
    hana = desks["hana"]
    case_id = hana.open_case("alice")
    page = hana.act(case_id, "sms-code")
    assert page.status_code == 422
    assert "the tier does not allow sms_code" in page.text
    assert "Error id: invalid_input" in page.text
    assert f"Case {case_id}" in page.text  # the case page, not a bare error


def test_a_security_key_link_is_answered_on_the_subjects_device(
    world: World, desks: dict[str, Desk]
) -> None:
    world.subject("alice")
    key = enrol_webauthn(world, "alice")
    hana = desks["hana"]
    case_id = hana.open_case("alice")
    sent = hana.act(case_id, "webauthn-link")
    assert "A one-time link went to the subject&#39;s confirmed contacts" in sent.text
    assert "link sent at" in sent.text
    link = last_webauthn_link(world, "alice")
    options = webauthn_proofing.link_options(world.svc, link=link)
    webauthn_proofing.link_proof(
        world.svc, link=link, response=json.dumps(key.assert_(options, origin=ORIGIN))
    )
    page = hana.get(f"/console/cases/{case_id}")
    assert "1 of 1 distinct method passed (webauthn)" in page.text
    assert all(link not in html for html in hana.pages)


def test_a_sponsor_attests_through_their_own_link(world: World, desks: dict[str, Desk]) -> None:
    _contractor_with_sponsor(world)
    hana = desks["hana"]
    case_id = hana.open_case("carl")
    asked = hana.act(case_id, "attestation")
    assert "A one-time link went to the subject&#39;s manager or sponsor" in asked.text
    assert "asked the sponsor" in asked.text and "waiting" in asked.text
    token = _mail_token(world, "mike", "attestation_request", "#token=")
    attestation.decide(world.svc, token=token, decision="attest")
    page = hana.get(f"/console/cases/{case_id}")
    assert "(manager_attestation)" in page.text
    assert _state(world, case_id) == "proofing"  # the tier's second factor is still due
    hana.act(case_id, "proofs", method="totp", response=world.totp_now("carl"))
    assert _state(world, case_id) == "awaiting_approval"
    assert all(token not in html for html in hana.pages)


def test_an_agent_challenge_shows_its_state_only(world: World, desks: dict[str, Desk]) -> None:
    """R-21, R-34: the agent sees pending/passed/failed, never the link or code."""
    world.subject("root", privileged=True, groups=("it-admins",))
    hana = desks["hana"]
    case_id = hana.open_case("root")
    page = hana.act(case_id, "challenge", mode="contact_code")
    assert "The challenge went to the subject&#39;s own device" in page.text
    assert "contact_code challenge sent at" in page.text and "pending" in page.text
    link = _mail_token(world, "root", "agent_challenge", "#token=")
    code = world.last_code("root")
    assert all(link not in html and code not in html for html in hana.pages)


def test_the_executor_executes_and_never_sees_the_link(
    world: World, desks: dict[str, Desk]
) -> None:
    world.subject("alice", with_totp=True)
    case_id = desks["hana"].open_case("alice")
    desks["hana"].act(case_id, "proofs", method="totp", response=world.totp_now("alice"))
    assert "Execute</button>" not in desks["hana"].get(f"/console/cases/{case_id}").text
    edsger = desks["edsger"]
    page = edsger.act(case_id, "execute")
    assert "Executed. A one-time link went to the subject" in page.text
    assert _state(world, case_id) == "credential_issued"
    token = world.last_link_token("alice")
    assert all(token not in html for html in edsger.pages)


def test_an_approver_cannot_execute_and_is_told_why_in_plain_words(
    world: World, desks: dict[str, Desk]
) -> None:
    """R-33: the page says why instead of offering the button; a forced post is
    refused with the same words."""
    _contractor_with_sponsor(world)
    case_id = desks["hana"].open_case("carl")
    desks["hana"].act(case_id, "proofs", method="totp", response=world.totp_now("carl"))
    desks["hana"].act(case_id, "attestation")  # the contractor tier requires the sponsor
    token = _mail_token(world, "mike", "attestation_request", "#token=")
    attestation.decide(world.svc, token=token, decision="attest")
    linus = desks["linus"]
    cases.approve(world.svc, world.operators["linus"], case_id, reason="caller known to me")
    page = linus.get(f"/console/cases/{case_id}")
    assert "You approved this case, so someone else must execute it." in page.text
    assert f'action="/console/cases/{case_id}/execute"' not in page.text
    forced = linus.act(case_id, "execute")
    assert forced.status_code == 403
    assert "You approved this case, so someone else must execute it." in forced.text
    assert "Error id: sod_violation" in forced.text
    assert _state(world, case_id) == "approved"


def test_a_failed_system_is_retried_by_the_executor(world: World, desks: dict[str, Desk]) -> None:
    world.subject("alice", with_totp=True)
    case_id = desks["hana"].open_case("alice")
    desks["hana"].act(case_id, "proofs", method="totp", response=world.totp_now("alice"))
    desks["edsger"].act(case_id, "execute")
    world.svc.registry.register(
        "directory", Refusing("directory", world.svc.engine), kind="builtin"
    )
    credentials.redeem(world.svc, token=world.last_link_token("alice"), new_password=PASSWORD)
    world.drain()
    assert _state(world, case_id) == "needs_attention"
    page = desks["edsger"].get(f"/console/cases/{case_id}")
    assert "Retry the failed update of" in page.text
    world.svc.registry.register(
        "directory", BuiltinDirectory("directory", world.svc.engine), kind="builtin"
    )
    retried = desks["edsger"].act(case_id, "retry", target="directory")
    assert "The failed systems are queued again." in retried.text
    world.drain()
    assert _state(world, case_id) == "completed"


def test_cancel_needs_a_reason_and_stops_the_case(world: World, desks: dict[str, Desk]) -> None:
    world.subject("alice")
    hana = desks["hana"]
    case_id = hana.open_case("alice")
    empty = hana.act(case_id, "cancel", reason="  ")
    assert empty.status_code == 422
    assert "a cancellation needs a reason" in empty.text
    page = hana.act(case_id, "cancel", reason="caller hung up")
    assert "The case is cancelled" in page.text
    assert _state(world, case_id) == "cancelled"
    assert f'action="/console/cases/{case_id}/cancel"' not in page.text


def test_flag_fraud_blocks_the_case_and_freezes_the_subject(
    world: World, desks: dict[str, Desk]
) -> None:
    """R-43 from the console."""
    world.subject("alice")
    hana = desks["hana"]
    case_id = hana.open_case("alice")
    page = hana.act(case_id, "flag-fraud", reason="caller could not say their manager")
    assert "Fraud flagged" in page.text
    assert _state(world, case_id) == "blocked"
    with world.svc.uow() as uow:
        subject = uow.subjects.get("alice")
    assert subject is not None and Hold.FRAUD in subject.holds


ACTIONS: list[tuple[str, dict[str, str]]] = [
    ("proofs", {"method": "totp", "response": "000000"}),
    ("email-code", {}),
    ("sms-code", {}),
    ("webauthn-link", {}),
    ("attestation", {}),
    ("challenge", {"mode": ""}),
    ("execute", {}),
    ("retry", {"target": ""}),
    ("cancel", {"reason": "forged"}),
    ("flag-fraud", {"reason": "forged"}),
]


@pytest.mark.parametrize(("action", "form"), ACTIONS, ids=[a for a, _ in ACTIONS])
def test_every_action_refuses_a_post_without_the_csrf_token(
    sqlite_world: World, action: str, form: dict[str, str]
) -> None:
    world = sqlite_world
    world.subject("alice", with_totp=True)
    world.operator("hana", Role.REQUESTER, Role.EXECUTOR)
    with console_client(world) as client:
        sign_in(client, world, "hana")
        case_id = Desk(client).open_case("alice")
        before = _ledger_size(world)
        answer = client.post(f"/console/cases/{case_id}/{action}", data={"csrf": "0" * 64, **form})
        assert answer.status_code == 403
        assert "csrf_refused" in answer.text
        assert _ledger_size(world) == before
        assert _state(world, case_id) == "proofing"


def test_a_case_outside_scope_answers_like_a_missing_one(
    world: World, desks: dict[str, Desk]
) -> None:
    world.subject("alice")
    case_id = desks["hana"].open_case("alice")
    olga = desks["olga"]
    outside = olga.get(f"/console/cases/{case_id}")
    missing = olga.get("/console/cases/case-20261125-0000000000")
    assert outside.status_code == missing.status_code == 404
    assert "alice" not in outside.text
    csrf = csrf_of(olga.get("/").text)
    forced = olga.client.post(
        f"/console/cases/{case_id}/cancel", data={"csrf": csrf, "reason": "x"}
    )
    assert forced.status_code == 404
    assert olga.get(f"/console/cases/{case_id}/live").status_code == 404
    assert _state(world, case_id) == "proofing"


def _live(desk: Desk, case_id: str, shown: str) -> Any:
    return desk.client.get(
        f"/console/cases/{case_id}/live", params={"shown": shown}, headers={"HX-Request": "true"}
    )


def test_receipts_update_live_until_the_case_is_final(world: World, desks: dict[str, Desk]) -> None:
    """The live fragment polls every 2 s while the systems are updated, asks for
    a full reload when the state moved on, and stops polling once final."""
    world.subject("alice", with_totp=True)
    case_id = desks["hana"].open_case("alice")
    desks["hana"].act(case_id, "proofs", method="totp", response=world.totp_now("alice"))
    issued = desks["edsger"].act(case_id, "execute")
    assert 'hx-trigger="every 2s"' in issued.text  # credential_issued: waiting for the subject
    credentials.redeem(world.svc, token=world.last_link_token("alice"), new_password=PASSWORD)
    executing = _live(desks["edsger"], case_id, "credential_issued")
    assert executing.headers.get("hx-redirect") == f"/console/cases/{case_id}"
    same = _live(desks["edsger"], case_id, "executing")
    assert "hx-redirect" not in same.headers
    assert 'hx-trigger="every 2s"' in same.text
    assert "<html" not in same.text
    assert 'id="receipts"' in same.text and "pending" in same.text
    world.drain()
    final = _live(desks["edsger"], case_id, "executing")
    assert final.headers.get("hx-redirect") == f"/console/cases/{case_id}"
    done = _live(desks["edsger"], case_id, "completed")
    assert "hx-trigger" not in done.text
    assert "succeeded" in done.text
    assert 'id="checks"' in done.text and "read_back" in done.text


def test_no_secret_is_on_any_page_of_a_whole_recovery(world: World, desks: dict[str, Desk]) -> None:
    """R-34, R-37: codes, links, tokens, the new password, enrolled secrets and
    session tokens never reach an operator's page."""
    world.subject("alice", with_totp=True, codes=2)
    key = enrol_webauthn(world, "alice")
    hana, edsger = desks["hana"], desks["edsger"]
    case_id = hana.open_case("alice")
    hana.act(case_id, "email-code")
    hana.act(case_id, "webauthn-link")
    hana.act(case_id, "proofs", method="recovery_code", response=world.recovery_codes["alice"][0])
    edsger.act(case_id, "execute")
    credentials.redeem(world.svc, token=world.last_link_token("alice"), new_password=PASSWORD)
    world.drain()
    for desk in (hana, edsger):
        desk.get(f"/console/cases/{case_id}")
        desk.get("/console/subjects/alice")
    secrets = [
        world.totp_secrets["alice"],
        *world.recovery_codes["alice"],
        world.last_code("alice"),
        world.last_link_token("alice"),
        last_webauthn_link(world, "alice"),
        PASSWORD,
        *[c.value for d in desks.values() for c in d.client.cookies.jar if c.value is not None],
        b64(key.credential_id),
    ]
    pages = hana.pages + edsger.pages
    assert len(pages) > 10
    leaked = [s for s in secrets if any(s in html for html in pages)]
    assert leaked == []
    assert _state(world, case_id) == "completed"
