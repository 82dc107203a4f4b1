"""The notices a case page shows after an action (POST, then redirect, then GET
with ``?notice=KEY``). Only these keys mean anything: a crafted URL cannot put
words of its own on the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # ok, warn, bad: the CSS class
    text: str


NOTICES: Final[dict[str, Notice]] = {
    "opened": Notice("ok", "Case opened. Collect the evidence the tier asks for below."),
    "opened_blocked": Notice(
        "warn",
        "The request was recorded as a case, but the policy blocks this recovery or a hold "
        "stands on the subject (see the outcome below).",
    ),
    "opened_denied": Notice(
        "warn",
        "The request was recorded as a case, but the policy refuses it on this channel or "
        "at this risk (see the outcome below).",
    ),
    "opened_not_owner": Notice(
        "warn",
        "The request was recorded as a denied case: only an owner of a shared account may "
        "ask for its recovery (see the outcome below).",
    ),
    "proof_passed": Notice("ok", "The evidence matched and is recorded on the case."),
    "break_glass_used": Notice(
        "warn",
        "Break-glass used: the hold keeps standing, this case alone goes on. It needs the "
        "tier's approvers plus a security approver, and security has been alerted.",
    ),
    "proof_failed": Notice(
        "bad", "The evidence did not match. The failed attempt is recorded on the case."
    ),
    "email_code_sent": Notice(
        "ok",
        "A code went to the subject's confirmed email addresses. Ask the caller to read it "
        "to you and type it below.",
    ),
    "email_code_not_sent": Notice(
        "warn", "No code was sent: the subject has no confirmed email address."
    ),
    "sms_code_sent": Notice(
        "ok",
        "A code went to the subject's confirmed phone numbers. Ask the caller to read it "
        "to you and type it below.",
    ),
    "webauthn_link_sent": Notice(
        "ok",
        "A one-time link went to the subject's confirmed contacts. They confirm with their "
        "security key on their own device; reload this page to see the result.",
    ),
    "attestation_requested": Notice(
        "ok",
        "A one-time link went to the subject's manager or sponsor. Their decision appears "
        "here when they answer.",
    ),
    "challenge_sent": Notice(
        "ok",
        "The challenge went to the subject's own device. They answer it there; reload this "
        "page to see the result.",
    ),
    "executed": Notice(
        "ok",
        "Executed. A one-time link went to the subject's confirmed email addresses; nobody "
        "at the help desk sees it. The systems are updated once the subject uses it.",
    ),
    "retried": Notice("ok", "The failed systems are queued again."),
    "cancelled": Notice("ok", "The case is cancelled; any live link of the subject is void."),
    "fraud_flagged": Notice(
        "ok",
        "Fraud flagged: the case is stopped, live links are void, the subject is frozen and "
        "security was alerted.",
    ),
}


def notice_for(key: str | None) -> Notice | None:
    return NOTICES.get(key) if key else None
