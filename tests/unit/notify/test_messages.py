"""Message templates: every kind renders a text and an HTML part, carries only
its own one-time secret, and can never be given a password, a TOTP secret or a
recovery code (R-22, R-23)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from custos.notify import enrolment_messages, messages, service_messages, tap_messages
from custos.notify.base import Message

AT = datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
CODE = "48213907"
RESET_LINK = "https://recovery.example.org/reset#token=crt_RESETRESETRESET"
REPUDIATION_LINK = "https://recovery.example.org/repudiate#token=crp_REPUDIATEREPUDIATE"
ATTEST_LINK = "https://recovery.example.org/attest#token=cat_ATTESTATTESTATTEST"
CHALLENGE_LINK = "https://recovery.example.org/challenge#token=cch_CHALLENGECHALLENGE"
WEBAUTHN_LINK = "https://recovery.example.org/webauthn#link=cwl_WEBAUTHNWEBAUTHN"
CONTACT_CODE = "73019264"
OWNER_LINK = "https://recovery.example.org/shared#token=crt_OWNEROWNEROWNER"
SERVICE_LINK = "https://recovery.example.org/service-secret#token=csr_SERVICESERVICE"
TAP_LINK = "https://recovery.example.org/temporary-access-pass#token=ctp_PASSPASSPASS"
#: Values that must never reach a message, offered to every template under the
#: names a careless caller would use.
FORBIDDEN: dict[str, str | list[str]] = {
    "password": "quartz-lantern-meadow-7-orbit",
    "new_password": "quartz-lantern-meadow-7-orbit",
    "temporary_password": "Tmp-9xQ4-vR2k-M7pz",
    "totp_secret": "JBSWY3DPEHPK3PXPJBSWY3DP",
    "secret": "JBSWY3DPEHPK3PXPJBSWY3DP",
    "recovery_code": "K7QD-3MXA-9PZT",
    "replacement_code": "W2HF-8NRC-4LBY",
    "recovery_codes": ["K7QD-3MXA-9PZT", "W2HF-8NRC-4LBY"],
    "temporary_access_pass": "Tap-Q8vX-2mLp",
    "tap": "Tap-Q8vX-2mLp",
}


def sample_messages() -> list[Message]:
    """One message of every kind, built the way the services build them."""
    return [
        messages.email_code(to="bob@example.org", case_id="case-1", code=CODE, minutes=10),
        messages.reset_link(to="bob@example.org", case_id="case-1", link=RESET_LINK, minutes=15),
        *(
            messages.recovery_notice(
                to="bob@example.org",
                case_id="case-1",
                display_name="Bob",
                event=event,
                at=AT,
                channel="self_service",
                repudiation_link=REPUDIATION_LINK,
                expires_days=7,
            )
            for event in ("credential_issued", "completed")
        ),
        messages.recovery_code_used(
            to="bob@example.org",
            case_id="case-1",
            display_name="Bob",
            at=AT,
            remaining=9,
            repudiation_link=REPUDIATION_LINK,
            expires_days=7,
        ),
        messages.repudiated(
            to="security@example.org",
            case_id="case-1",
            subject_id="bob",
            flagged_by="operator hana (op-1)",
            source="operator",
            reason="caller could not name their manager",
            at=AT,
            state_before="proofing",
            state_after="blocked",
            actions=["case moved from proofing to blocked"],
        ),
        messages.break_glass_used(
            to="security@example.org",
            case_id="case-1",
            subject_id="bob",
            exception_id="exc-1",
            invoked_by="hana (operator:op-1)",
            reason="CFO locked out at quarter close",
            at=AT,
            tier="contractor",
            holds=["legal_hold"],
            approvals=2,
            security_groups=["security-approvers"],
            state_after="proofing",
        ),
        messages.attestation_request(
            to="mia@example.org",
            case_id="case-1",
            display_name="Bob",
            relation="manager",
            channel="helpdesk",
            reason="lost phone",
            at=AT,
            link=ATTEST_LINK,
            hours=24,
        ),
        messages.attestation_refused(
            to="security@example.org",
            case_id="case-1",
            subject_id="bob",
            attester_id="mia",
            relation="manager",
            at=AT,
            state="proofing",
        ),
        messages.recovery_refused(
            to="bob@example.org",
            case_id="case-1",
            display_name="Bob",
            instructions="call the security desk on +49 30 1234",
        ),
        messages.agent_challenge(
            to="bob@example.org", case_id="case-1", mode="totp", link=CHALLENGE_LINK, minutes=10
        ),
        enrolment_messages.webauthn_link(
            to="bob@example.org", case_id="case-1", link=WEBAUTHN_LINK, minutes=10
        ),
        enrolment_messages.contact_confirmation(
            to="bob.new@example.org", display_name="Bob", code=CONTACT_CODE, minutes=10
        ),
        enrolment_messages.contact_changed(
            to="bob.old@example.org", display_name="Bob", change="an address was removed", at=AT
        ),
        enrolment_messages.authenticator_bound(
            to="bob@example.org", display_name="Bob", method="webauthn", label="YubiKey", at=AT
        ),
        enrolment_messages.sign_in_code_used(
            to="bob@example.org", display_name="Bob", at=AT, remaining=4
        ),
        messages.owner_link(
            to="ana@example.org",
            case_id="case-1",
            account="frontdesk",
            requested_by="ana",
            link=OWNER_LINK,
            minutes=15,
        ),
        messages.owner_link_used(
            to="ben@example.org", case_id="case-1", account="frontdesk", owner="ana", at=AT
        ),
        service_messages.secret_link(
            to="ana@example.org",
            case_id="case-1",
            account="svc-backup",
            link=SERVICE_LINK,
            minutes=30,
            grace_words="the old value works for 1d",
        ),
        tap_messages.tap_link(
            to="bob@example.org",
            case_id="case-1",
            target="entra",
            account="bob@contoso.example",
            link=TAP_LINK,
            minutes=45,
            lifetime=45,
        ),
        service_messages.rotation_due(
            to="ana@example.org", case_id="case-1", account="svc-backup", why="older than 90d"
        ),
        messages.operator_anomaly(
            to="security@example.org",
            alert_id="al_1",
            operator="ines",
            signal="fast_approval",
            summary="3 approvals less than 120s after the case opened",
            at=AT,
            evidence=[4, 9, 14],
        ),
    ]


def sample_context() -> dict[str, Any]:
    base: dict[str, Any] = {
        "case_id": "case-1",
        "display_name": "Bob",
        "at": "2026-11-25 09:30 UTC",
        "channel": "help desk",
        "minutes": 10,
        "remaining": 3,
        "expires_days": 7,
        "event": "completed",
        "subject_id": "bob",
        "flagged_by": "x",
        "source": "operator",
        "reason": "r",
        "state_before": "proofing",
        "state_after": "blocked",
        "actions": ["a"],
        "mode": "totp",
        "relation": "manager",
        "attester_id": "mia",
        "state": "proofing",
        "hours": 24,
        "code": CODE,
        "link": RESET_LINK,
        "repudiation_link": REPUDIATION_LINK,
        "title": "t",
        "method": "webauthn",
        "label": "key",
        "change": "an address was removed",
        "instructions": "call the security desk",
        "account": "frontdesk",
        "requested_by": "ana",
        "owner": "ana",
        "why": "older than 90d",
        "grace_words": "the old value works for 1d",
        "alert_id": "al_1",
        "operator": "ines",
        "signal": "fast_approval",
        "summary": "3 fast approvals",
        "evidence": [4, 9],
        "exception_id": "exc-1",
        "invoked_by": "hana",
        "tier": "contractor",
        "holds": ["legal_hold"],
        "approvals": 2,
        "security_groups": ["security-approvers"],
        "target": "entra",
        "lifetime": 45,
    }
    return base


@pytest.mark.parametrize("kind", sorted(messages.KINDS))
@pytest.mark.parametrize("suffix", ["txt", "html"])
def test_templates_never_show_forbidden_values_when_handed_them(kind: str, suffix: str) -> None:
    """Rendered straight from the template files, with every forbidden value in the
    context, no part of any kind shows one (R-23)."""
    template = messages.environment().get_template(f"{kind}.{suffix}")
    rendered = template.render({**sample_context(), **FORBIDDEN})
    for value in FORBIDDEN.values():
        for item in value if isinstance(value, list) else [value]:
            assert item not in rendered, f"{kind}.{suffix} shows a forbidden value"


def test_sample_messages_carry_only_their_own_secret() -> None:
    """The issued code only in email_code, the reset link only in reset_link, the
    repudiation link only in recovery notices (R-13, R-17, R-22, R-23)."""
    allowed = {
        "email_code": {CODE},
        "reset_link": {RESET_LINK},
        "recovery_notice": {REPUDIATION_LINK},
        "recovery_code_used": {REPUDIATION_LINK},
        "repudiated": set(),
        "break_glass_used": set(),
        "attestation_request": {ATTEST_LINK},
        "attestation_refused": set(),
        "recovery_refused": set(),
        "agent_challenge": {CHALLENGE_LINK},
        "webauthn_link": {WEBAUTHN_LINK},
        "contact_confirmation": {CONTACT_CODE},
        "contact_changed": set(),
        "authenticator_bound": set(),
        "sign_in_code_used": set(),
        "owner_link": {OWNER_LINK},
        "owner_link_used": set(),
        "service_secret_link": {SERVICE_LINK},
        "service_rotation_due": set(),
        "temporary_access_pass_link": {TAP_LINK},
        "operator_anomaly": set(),
    }
    secrets = {
        CODE,
        RESET_LINK,
        REPUDIATION_LINK,
        ATTEST_LINK,
        CHALLENGE_LINK,
        WEBAUTHN_LINK,
        CONTACT_CODE,
        OWNER_LINK,
        SERVICE_LINK,
        TAP_LINK,
    }
    built = sample_messages()
    assert {m.kind for m in built} == messages.KINDS
    for message in built:
        whole = "\n".join([message.subject, message.body, message.html or ""])
        present = {s for s in secrets if s in whole}
        assert present == allowed[message.kind], message.kind
        for value in FORBIDDEN.values():
            for item in value if isinstance(value, list) else [value]:
                assert item not in whole


def test_every_message_has_a_text_and_an_html_part() -> None:
    for message in sample_messages():
        assert message.body.strip()
        assert message.html is not None and message.html.lstrip().startswith("<!doctype html>")


def test_render_refuses_a_password_or_factor_secret_in_the_context() -> None:
    """A caller cannot hand a template a secret by mistake (R-23)."""
    for name in ("password", "new_password", "totp_secret", "recovery_code", "replacement_code"):
        with pytest.raises(ValueError, match="may not carry"):
            messages.render("recovery_notice", "s", {name: "x"})


def test_render_refuses_a_one_time_secret_of_another_kind() -> None:
    with pytest.raises(ValueError, match="may not appear"):
        messages.render("recovery_notice", "s", {"code": CODE})
    with pytest.raises(ValueError, match="may not appear"):
        messages.render("email_code", "s", {"link": RESET_LINK})


def test_html_part_escapes_operator_text_when_it_holds_markup() -> None:
    alert = messages.repudiated(
        to="security@example.org",
        case_id="case-1",
        subject_id="bob",
        flagged_by="operator <b>hana</b>",
        source="operator",
        reason='<script>alert("x")</script>',
        at=AT,
        state_before="proofing",
        state_after="blocked",
        actions=[],
    )
    assert alert.html is not None
    assert "<script>" not in alert.html and "&lt;script&gt;" in alert.html
    assert '<script>alert("x")</script>' in alert.body  # the text part is plain text


def test_email_code_text_states_code_and_lifetime() -> None:
    message = messages.email_code(to="a@example.org", case_id="case-9", code=CODE, minutes=10)
    assert f"is {CODE}." in message.body and "10 minutes" in message.body
    assert message.kind == "email_code" and message.case_id == "case-9"


def test_recovery_notice_says_what_when_and_how() -> None:
    notice = sample_messages()[3]
    assert notice.kind == "recovery_notice"
    assert "case-1" in notice.body and "2026-11-25 09:30 UTC" in notice.body
    assert "self-service portal" in notice.body
    assert "password of your account was changed" in notice.body
