"""Break-glass end to end through the HTTP API (docs/exceptions.md, issue 13
"Break-glass", issue 14 "refused break-glass attempts"), on SQLite and
PostgreSQL, with the real loopback SMTP server and webhook receiver: a held
subject's blocked case goes on under an active break-glass exception while
the hold keeps standing, needs the tier's approvers plus a security approver,
alerts security once by mail and signed webhook, is marked in the ledger, the
case and the compliance report; every refusal answers ``break_glass_refused``
(or the scope's 404), changes nothing and is recorded."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from break_glass_world import (
    BREAK_GLASS_USED,
    SECURITY,
    alerts,
    blocked_case,
    glass_exception,
    glass_world,
    held_subject,
    staff,
)
from fastapi.testclient import TestClient
from servers.smtp import SmtpServer
from sponsor_attestation import sponsor_attests_over_api
from sqlalchemy import select
from webhook_receiver import Received, webhook_receiver  # noqa: F401 (``receiver``)

from conftest import BACKENDS, START, World
from custos.api.app import create_app
from custos.domain.exceptions import Relaxation
from custos.domain.model import Employment
from custos.reports.compliance import build_report, day_period, render_html
from custos.reports.ledger_status import LedgerStatus
from custos.service.exceptions import commands as exceptions
from custos.service.oversight.refusals import close_windows, refusals_by_kind
from custos.store.tables import ledger

PASSWORD = "saffron-kettle-glacier-19-drum"


@pytest.fixture(params=BACKENDS)
def world(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    smtp: SmtpServer,
    receiver: tuple[str, Received],
) -> Iterator[World]:
    yield from glass_world(request.param, tmp_path, smtp, receiver)


@pytest.fixture
def api(world: World) -> Iterator[TestClient]:
    staff(world)
    with TestClient(create_app(world.svc)) as client:
        yield client


def auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


def glass(api: TestClient, world: World, case_id: str, by: str = "hana", **body: Any) -> Any:
    return api.post(f"/api/v1/cases/{case_id}/break-glass", headers=auth(world, by), json=body)


def detail(api: TestClient, world: World, case_id: str) -> dict[str, Any]:
    answer = api.get(f"/api/v1/cases/{case_id}", headers=auth(world, "barbara"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def decide(api: TestClient, world: World, case_id: str, by: str) -> Any:
    return api.post(
        f"/api/v1/cases/{case_id}/approve", headers=auth(world, by), json={"reason": "verified"}
    )


def events(world: World, type_: str) -> list[dict[str, Any]]:
    with world.svc.engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.canonical).where(ledger.c.type == type_).order_by(ledger.c.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def test_a_held_subject_recovers_under_break_glass_while_the_hold_stands(
    world: World, api: TestClient, smtp: SmtpServer, receiver: tuple[str, Received]
) -> None:
    """R-32, R-33, R-36: held subject -> case blocked -> break-glass (help
    desk, documented reason, active exception) -> proofing -> the tier's
    approver plus a security approver (a quorum without one is refused) ->
    execute -> completed, the hold standing throughout and still refusing
    every other case. Security gets one mail and one signed webhook; the use
    is in the ledger, the case and the compliance report."""
    hold_id = held_subject(world, "carl")
    case_id = blocked_case(world, "carl")
    other = blocked_case(world, "carl")
    exception_id = glass_exception(world, "carl")

    used = glass(api, world, case_id, exception=exception_id, reason="CFO locked out at close")
    assert used.status_code == 200, used.text
    assert used.json()["state"] == "proofing"  # break-glass never skips proofing
    assert not alerts(receiver[1])  # written to the outbox, never sent from the request
    shown = detail(api, world, case_id)
    assert shown["tier"] == "contractor"  # the tier carl matches without the hold
    assert shown["break_glass"]["exception"] == exception_id
    assert shown["break_glass"]["invoked_by_name"] == "hana"
    assert shown["requirements"]["approvals"] == 2
    timeline = [e["type"] for e in shown["timeline"]]
    assert BREAK_GLASS_USED in timeline

    proof = api.post(
        f"/api/v1/cases/{case_id}/proofs",
        headers=auth(world, "hana"),
        json={"method": "totp", "code": world.totp_now("carl")},
    )
    assert proof.status_code == 200 and proof.json()["state"] == "proofing", proof.text
    sponsor_attests_over_api(world, api, case_id, auth(world, "hana"))  # the contractor tier's
    assert detail(api, world, case_id)["state"] == "awaiting_approval"
    # The other case of the held subject stays blocked and refused.
    assert decide(api, world, other, "linus").json()["error"]["id"] == "recovery_blocked"
    assert detail(api, world, other)["state"] == "blocked"

    assert decide(api, world, case_id, "linus").status_code == 200
    no_security = decide(api, world, case_id, "margaret")
    assert no_security.status_code == 403
    assert no_security.json()["error"]["id"] == "break_glass_refused"
    assert detail(api, world, case_id)["state"] == "awaiting_approval"
    executed_early = api.post(f"/api/v1/cases/{case_id}/execute", headers=auth(world, "edsger"))
    assert executed_early.status_code == 409  # execution only after the quorum
    approved = decide(api, world, case_id, "sue")
    assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text

    executed = api.post(f"/api/v1/cases/{case_id}/execute", headers=auth(world, "edsger"))
    assert executed.status_code == 200, executed.text
    (link,) = smtp.to("carl@example.org", "reset_link")
    token = re.search(r"#token=(\S+)", link.text)
    assert token, link.text
    redeemed = api.post(
        "/api/v1/self-service/reset", json={"token": token.group(1), "new_password": PASSWORD}
    )
    assert redeemed.status_code == 200, redeemed.text
    world.drain()
    assert detail(api, world, case_id)["state"] == "completed"

    hold = api.get(f"/api/v1/holds/{hold_id}", headers=auth(world, "ada")).json()
    assert hold["status"] == "standing"
    again = api.post(
        "/api/v1/cases", headers=auth(world, "hana"), json={"subject": "carl", "reason": "x"}
    )
    assert again.status_code == 409 and again.json()["error"]["id"] == "recovery_blocked"

    # Alerts: one mail to the security contact, one signed webhook, no secret.
    world.drain()
    (mail,) = smtp.to(SECURITY, "break_glass_used")
    assert case_id in mail.text and exception_id in mail.text and "hana" in mail.text
    assert token.group(1) not in mail.text and PASSWORD not in mail.text
    (payload,) = alerts(receiver[1])
    assert payload["case"] == case_id and payload["exception"] == exception_id
    assert payload["subject"] == "carl" and payload["reason"] == "CFO locked out at close"
    assert payload["holds"] == ["legal_hold"]
    assert token.group(1) not in json.dumps(payload) and PASSWORD not in json.dumps(payload)

    # The ledger and the compliance report.
    (entry,) = events(world, BREAK_GLASS_USED)
    assert entry["case"] == case_id and entry["data"]["exception"] == exception_id
    report = build_report(
        world.svc,
        day_period(START.date(), (START + timedelta(days=1)).date()),
        verifier=lambda svc: LedgerStatus("verified", entries=1, heads_checked=1),
    )
    figures = report.to_json()["figures"]["exceptions"]
    (listed,) = figures["break_glass"]
    assert listed["case"] == case_id and listed["exception"] == exception_id
    assert listed["invoked_by"] == f"operator:{world.operators['hana'].id}"
    assert listed["approved_by"] == ["linus", "sue"]
    assert figures["break_glass_refused"] == 1  # margaret's approval
    page = render_html(report)
    assert "Break-glass uses in the period" in page and case_id in page


def test_each_refused_break_glass_changes_nothing_and_is_recorded(
    world: World, api: TestClient, smtp: SmtpServer, receiver: tuple[str, Received]
) -> None:
    """Issue 14, R-36: no or an unknown exception, one of another kind, a
    pending, revoked or expired one, one covering someone else, no reason, a
    case not blocked, the wrong role: each answers break_glass_refused (403)
    with its rule and leaves the case blocked, nothing alerted; a case
    outside the scope answers 404 word for word like an unknown one. Every
    refusal is counted as break_glass; the first of the window is in the
    ledger in full and the window's flood summary counts the rest."""
    held_subject(world, "carl")
    case_id = blocked_case(world, "carl")
    world.subject("dora", employment=Employment.CONTRACTOR, with_totp=True)
    other_case = api.post(
        "/api/v1/cases", headers=auth(world, "hana"), json={"subject": "dora", "reason": "x"}
    ).json()["id"]
    good = glass_exception(world, "carl")
    method = glass_exception(
        world, "carl", relaxation=Relaxation.METHOD, value="manager_attestation"
    )
    pending = glass_exception(world, "carl", approvers=("ada",))
    revoked = glass_exception(world, "carl")
    exceptions.revoke_exception(world.svc, world.operators["ada"], revoked, reason="not needed")
    elsewhere = glass_exception(world, "dora")
    short = glass_exception(world, "carl", hours=1)
    before = detail(api, world, case_id)

    refusals = [
        ("hana", case_id, {"exception": "exc-nope", "reason": "why"}, "no_exception"),
        ("hana", case_id, {"exception": method, "reason": "why"}, "not_break_glass"),
        ("hana", case_id, {"exception": pending, "reason": "why"}, "not_active"),
        ("hana", case_id, {"exception": revoked, "reason": "why"}, "not_active"),
        ("hana", case_id, {"exception": elsewhere, "reason": "why"}, "not_covered"),
        ("hana", case_id, {"exception": good, "reason": "   "}, "reason"),
        ("hana", other_case, {"exception": good, "reason": "why"}, "not_blocked"),
        ("eve", case_id, {"exception": good, "reason": "why"}, None),
    ]
    for by, target, body, rule in refusals:
        answer = glass(api, world, target, by=by, **body)
        assert answer.status_code == 403, (rule, answer.text)
        error = answer.json()["error"]
        if rule is None:
            assert error["id"] == "not_authorized"
        else:
            assert error["id"] == "break_glass_refused", error
            assert error["details"]["rule"] == rule and error["message"]
    world.clock.advance(timedelta(hours=2))  # ``short`` has ended
    expired = glass(api, world, case_id, exception=short, reason="why")
    assert expired.json()["error"]["details"]["rule"] == "not_active"
    hidden = glass(api, world, case_id, by="finn", exception=good, reason="why")
    unknown = glass(api, world, "case-unknown", by="finn", exception=good, reason="why")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["error"]["message"].replace(case_id, "X") == unknown.json()["error"][
        "message"
    ].replace("case-unknown", "X")
    missing = glass(api, world, case_id, reason="why")
    assert missing.status_code == 422  # the exception is a required field
    extra = glass(api, world, case_id, exception=good, reason="why", force=True)
    assert extra.status_code == 422  # unknown fields are refused

    after = detail(api, world, case_id)
    assert after["state"] == "blocked" and after["break_glass"] is None
    assert after["requirements"] == before["requirements"]
    assert not events(world, BREAK_GLASS_USED)
    world.drain()
    assert not smtp.to(SECURITY, "break_glass_used") and not alerts(receiver[1])

    # hana's 7 above, eve's, hana's with the expired exception, finn's scope refusal.
    assert refusals_by_kind(world.svc)["break_glass"] == 10
    refused = events(world, "governance:break_glass:refused")
    assert {e["data"]["error"] for e in refused} >= {"break_glass_refused", "not_authorized"}
    assert all(e["outcome"] == "denied" for e in refused)
    window = world.svc.policy.document.oversight.refusal_window
    world.clock.advance(window * 2)
    close_windows(world.svc)
    summaries = [
        e
        for e in events(world, "oversight:refusals:summarised")
        if e["data"]["kind"] == "break_glass"
    ]
    assert sum(e["data"]["count"] for e in summaries) + len(refused) - len(summaries) == 10


def test_a_security_approver_who_invokes_break_glass_cannot_approve_it(
    world: World, api: TestClient
) -> None:
    """R-32, R-33: the invoker never approves the case, whatever groups they
    are in (sod_violation, rule break_glass_invoker); a different security
    approver completes the quorum."""
    held_subject(world, "carl")
    case_id = blocked_case(world, "carl")
    exception_id = glass_exception(world, "carl")
    used = glass(api, world, case_id, by="sue", exception=exception_id, reason="board call")
    assert used.status_code == 200, used.text
    api.post(
        f"/api/v1/cases/{case_id}/proofs",
        headers=auth(world, "hana"),
        json={"method": "totp", "code": world.totp_now("carl")},
    )
    sponsor_attests_over_api(world, api, case_id, auth(world, "hana"))
    own = decide(api, world, case_id, "sue")
    assert own.status_code == 403
    assert own.json()["error"]["id"] == "sod_violation"
    assert own.json()["error"]["details"]["rule"] == "break_glass_invoker"
    assert decide(api, world, case_id, "linus").status_code == 200
    assert decide(api, world, case_id, "ada").json()["state"] == "approved"


def test_the_case_goes_back_to_blocked_once_its_exception_is_revoked(
    world: World, api: TestClient
) -> None:
    """Only while the exception is active: once revoked, the next action on
    the case blocks it again and answers recovery_blocked."""
    held_subject(world, "carl")
    case_id = blocked_case(world, "carl")
    exception_id = glass_exception(world, "carl")
    assert glass(api, world, case_id, exception=exception_id, reason="x").status_code == 200
    exceptions.revoke_exception(world.svc, world.operators["grace"], exception_id, reason="done")
    proof = api.post(
        f"/api/v1/cases/{case_id}/proofs",
        headers=auth(world, "hana"),
        json={"method": "totp", "code": world.totp_now("carl")},
    )
    assert proof.status_code == 409 and proof.json()["error"]["id"] == "recovery_blocked"
    assert detail(api, world, case_id)["state"] == "blocked"
