"""The tier actions beyond a reset, on SQLite and PostgreSQL, through the
service layer and the JSON API: ``reissue`` (every authenticator and session
in Custos gone, every outstanding token and ceremony voided, re-enrolment
demanded; the checks read it back), ``reproof`` (re-proofing before anything
else) and ``refuse`` (the agent reads whom to contact; a self-service caller
learns nothing, the subject is told by mail)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from idv_provider import ATTRIBUTES, Provider, claims, provider_settings
from recoveries import PASSWORD
from reissue_world import INSTRUCTIONS, helpdesk_reissue, reissue_world

from conftest import BACKENDS, World, pg_schema
from custos.api.app import create_app
from custos.domain.errors import NotAuthorized, ProofingFailed, RecoveryRefused
from custos.domain.model import Role
from custos.domain.states import CaseState
from custos.service.ceremonies import reproofing
from custos.service.enrolment import subject_sessions
from custos.service.recovery import cases, self_service
from custos.service.recovery.queries import case_detail


@pytest.fixture
def provider() -> Provider:
    idv = Provider()
    idv.add_key("ES256", kid="k-es")
    return idv


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path, provider: Provider) -> Iterator[World]:
    settings = {"proofing": provider_settings(jwks_file=provider.write_jwks(tmp_path / "j.json"))}
    if request.param == "sqlite":
        made = reissue_world(f"sqlite:///{tmp_path / 'custos.db'}", tmp_path, **settings)
        yield made
        made.svc.engine.dispose()
        return
    with pg_schema() as url:
        made = reissue_world(url, tmp_path, **settings)
        try:
            yield made
        finally:
            made.svc.engine.dispose()


HOUR = timedelta(hours=1)


def auth(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


# -- reissue -------------------------------------------------------------------------
def test_a_reissue_leaves_no_authenticator_session_or_token_in_custos(world: World) -> None:
    """Issue 13 (R-24, R-29, R-36): before, a TOTP, saved codes, a Custos session
    and a TOTP enrolment waiting for its first code; after the reissue none
    counts any more, the history rows stay, the next sign-in must enrol first,
    and the case completes with factors_removed read back in Custos."""
    world.subject("root", privileged=True, groups=("it-admins",), with_totp=True, codes=3)
    world.directory.set_password("root", "old-directory-pass-42", must_change=False)
    signed = subject_sessions.sign_in(
        world.svc, identifier="root", password="old-directory-pass-42"
    )
    full = subject_sessions.complete_second_factor(
        world.svc, token=signed.token, method="totp", response=world.totp_now("root")
    )
    with world.svc.uow() as uow:
        pending = uow.authenticators.add_pending_totp(
            "root", 1, b"sealed", now=world.clock.now(), expires_at=world.clock.now() + HOUR
        )
        uow.commit()
    world.clock.advance(timedelta(seconds=30))  # a fresh TOTP step for the proof

    case_id = helpdesk_reissue(world, "root")
    world.drain()

    detail: dict[str, Any] = case_detail(world.svc, None, case_id)
    assert detail["state"] == str(CaseState.COMPLETED), detail["outcome_reason"]
    assert detail["requirements"]["action"] == "reissue"
    with world.svc.uow() as uow:
        assert uow.authenticators.active("root") == []
        assert {a.revoked_reason for a in uow.authenticators.history("root")} == {
            "credential reissued"
        }
        assert uow.enrolments.totp("root") is None
        assert uow.enrolments.remaining_recovery_codes("root") == 0
        assert (
            uow.authenticators.pending_totp(
                pending, subject_id="root", session_id=1, now=world.clock.now()
            )
            is None
        )
    with pytest.raises(NotAuthorized):
        subject_sessions.current(world.svc, full.token)
    checks = {(c["name"], c["target"]): c for c in detail["checks"]}
    assert checks[("factors_removed", "custos")]["passed"]
    assert checks[("factors_removed", "directory")]["verdict"] == "not_applicable"
    assert checks[("sessions_revoked", "directory")]["verdict"] == "passed"
    removed = next(
        e for e in detail["timeline"] if e["type"] == "credential:authenticators:removed"
    )
    assert removed["data"]["removed"] == 2 and removed["data"]["left"] == 0
    again = subject_sessions.sign_in(world.svc, identifier="root", password=PASSWORD)
    assert again.bind_required and not again.second_factor_due


def test_a_reissue_fails_its_check_when_an_old_authenticator_survives(world: World) -> None:
    """The factors_removed check reads Custos back: an authenticator bound
    before the reissue that is still active sends the case to needs_attention
    naming it (here restored behind Custos's back between redemption and check)."""
    world.subject("root", privileged=True, groups=("it-admins",), with_totp=True)
    case_id = helpdesk_reissue(world, "root")
    from custos.store.tables import authenticators

    with world.svc.uow() as uow:
        uow.conn.execute(
            authenticators.update()
            .where(authenticators.c.subject_id == "root")
            .values(revoked_at=None, revoked_reason=None)
        )
        uow.commit()
    world.drain()
    detail = case_detail(world.svc, None, case_id)
    assert detail["state"] == str(CaseState.NEEDS_ATTENTION)
    assert "still bound in Custos from before the reissue: totp" in detail["outcome_reason"]


def test_the_api_shows_the_reissue_and_its_checks(world: World) -> None:
    world.subject("root", privileged=True, groups=("it-admins",), with_totp=True)
    case_id = helpdesk_reissue(world, "root")
    world.drain()
    world.operator("audrey", Role.AUDITOR)
    with TestClient(create_app(world.svc)) as api:
        shown = api.get(f"/api/v1/cases/{case_id}", headers=auth(world, "audrey")).json()
    assert shown["requirements"]["action"] == "reissue"
    assert {"sessions_revoked", "factors_removed"} <= set(shown["requirements"]["post_checks"])
    assert {(c["name"], c["target"]) for c in shown["checks"]} >= {
        ("factors_removed", "custos"),
        ("factors_removed", "directory"),
    }


def test_the_console_case_page_shows_the_reissue_and_what_it_removed(world: World) -> None:
    """The case page names the action in words, lists the checks the reissue
    added, where each ran and what it saw, and the removal event."""
    from console_helpers import console_client, sign_in

    world.subject("root", privileged=True, groups=("it-admins",), with_totp=True)
    case_id = helpdesk_reissue(world, "root")
    world.drain()
    world.operator("audrey", Role.AUDITOR)
    client = console_client(world)
    sign_in(client, world, "audrey")
    page = client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200, page.text
    html = " ".join(page.text.split())
    assert "a reissue: a one-time link to a new password" in html
    assert "factors_removed" in html
    assert "no authenticator from before the reissue is bound in Custos" in html
    assert "<td>credential:authenticators:removed</td>" in html
    assert "<td>enrolment:subject:bind_required</td>" in html


# -- refuse ---------------------------------------------------------------------------
def test_the_help_desk_is_told_whom_to_contact(world: World) -> None:
    """A refuse tier: the case is recorded denied and the agent's answer is
    recovery_refused carrying the tier's instructions (API and service)."""
    world.subject("vera", groups=("break-glass",))
    world.operator("hana", Role.REQUESTER)
    with TestClient(create_app(world.svc)) as api:
        answer = api.post(
            "/api/v1/cases",
            headers=auth(world, "hana"),
            json={"subject": "vera", "reason": "caller forgot the vault password"},
        )
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["id"] == "recovery_refused"
    assert INSTRUCTIONS in error["message"]
    assert error["details"]["instructions"] == INSTRUCTIONS
    with pytest.raises(RecoveryRefused):
        cases.open_helpdesk_case(
            world.svc, world.operators["hana"], subject_id="vera", reason="again"
        )
    with world.svc.uow() as uow:
        assert len(uow.cases.ids_in_states({CaseState.DENIED})) == 2


def test_self_service_answers_alike_and_only_the_subject_is_told(world: World) -> None:
    """R-19: a caller asking for a refused subject gets the answers an unknown
    account gets; the subject's confirmed address (never the unconfirmed one)
    receives the instructions, as a ledger-recorded notice."""
    world.subject("vera", groups=("break-glass",))
    with TestClient(create_app(world.svc)) as api:
        answers = []
        for identifier in ("vera", "nobody-here"):
            started = api.post("/api/v1/self-service/recoveries", json={"identifier": identifier})
            flow = started.json()["flow"]
            code = api.post(f"/api/v1/self-service/recoveries/{flow}/email-code")
            proof = api.post(
                f"/api/v1/self-service/recoveries/{flow}/proofs",
                json={"method": "email_code", "code": "00000000"},
            )
            answers.append(
                (
                    started.status_code,
                    code.status_code,
                    code.json(),
                    proof.status_code,
                    proof.json(),
                )
            )
    assert answers[0] == answers[1]
    told = world.mail("vera@example.org", "recovery_refused")
    assert len(told) == 1 and INSTRUCTIONS in told[0]["body"]
    assert world.mail("vera@old.example.org", "recovery_refused") == []
    assert world.mail("vera@example.org", "email_code") == []
    with world.svc.uow() as uow:
        (case_id,) = uow.cases.ids_in_states({CaseState.DENIED})
    types = [e["type"] for e in case_detail(world.svc, None, case_id)["timeline"]]
    assert "notify:case:refusal_sent" in types


# -- reproof ---------------------------------------------------------------------------
def test_reproof_takes_re_proofing_before_any_other_proof(world: World, provider: Provider) -> None:
    """R-4: on a reproof tier a TOTP code is refused until the identity
    verification provider's signed result passed; then the reset link goes out."""
    world.subject("vic", groups=("vault",), with_totp=True)
    reproofing.record_proofed_attributes(world.svc, "vic", ATTRIBUTES, ial=2)
    world.operator("hana", Role.REQUESTER)
    with TestClient(create_app(world.svc)) as api:
        opened = api.post(
            "/api/v1/cases",
            headers=auth(world, "hana"),
            json={"subject": "vic", "reason": "lost the vault token"},
        )
        case_id = opened.json()["id"]
        early = api.post(
            f"/api/v1/cases/{case_id}/proofs",
            headers=auth(world, "hana"),
            json={"method": "totp", "code": world.totp_now("vic")},
        )
        assert early.status_code == 422, early.text
        assert early.json()["error"]["id"] == "reproofing_first"
        token = provider.sign(claims(world.clock.now()), "k-es")
        proved = api.post(
            f"/api/v1/cases/{case_id}/proofs",
            headers=auth(world, "hana"),
            json={"method": "reproofing", "code": token},
        )
        assert proved.status_code == 200, proved.text
    detail = case_detail(world.svc, None, case_id)
    assert detail["requirements"]["action"] == "reproof"
    assert detail["state"] == str(CaseState.APPROVED)
    assert [p["method"] for p in detail["proofs"]] == ["reproofing"]


def test_self_service_reproof_refuses_a_code_first_like_a_wrong_one(world: World) -> None:
    """In self-service an email code before re-proofing fails exactly like a
    wrong code (R-19): no new answer tells the caller which tier matched."""
    world.subject("vic", groups=("vault",))
    flow = self_service.start(world.svc, identifier="vic", source_address=None)
    self_service.request_email_code(world.svc, handle=flow)
    with pytest.raises(ProofingFailed):
        self_service.submit_proof(
            world.svc, handle=flow, method="email_code", response=world.last_code("vic")
        )
