"""Every message Custos sends, rendered from the Jinja2 templates beside this
module: a plain-text part always, an HTML part (autoescaped) beside it.

Kinds and the one secret each may carry (R-23: nothing else ever):

=================== ===================== ==========================================
kind                to                    secret it carries
=================== ===================== ==========================================
email_code          confirmed contacts    the issued code (R-13, R-15)
reset_link          confirmed contacts    the one-time reset link (R-17)
recovery_notice     confirmed contacts    the one-time repudiation link (R-22)
recovery_code_used  confirmed contacts    the one-time repudiation link (R-12, R-23)
repudiated          security_address      none (R-43)
break_glass_used    security_address      none (docs/exceptions.md)
attestation_request manager or sponsor    the one-time attestation link
attestation_refused security_address      none
recovery_refused    confirmed contacts    none (a refuse tier's instructions)
agent_challenge     confirmed contacts    the one-time challenge page link (R-21)
webauthn_link       confirmed contacts    the one-time WebAuthn page link of a case
contact_confirmation the new address     the contact confirmation code (R-14)
contact_changed     the old address       none (R-23)
authenticator_bound confirmed contacts    none (R-22: another channel)
=================== ===================== ==========================================

No builder takes a password, a TOTP secret or a recovery code, and :func:`render`
refuses context names that look like one, so a template cannot be handed one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from custos.notify.base import Message

TEMPLATES: Final = Path(__file__).parent / "templates"

#: The context name of the one secret each kind may carry.
SECRET_OF_KIND: Final[Mapping[str, str | None]] = {
    "email_code": "code",
    "reset_link": "link",
    "recovery_notice": "repudiation_link",
    "recovery_code_used": "repudiation_link",
    "repudiated": None,
    "break_glass_used": None,
    "attestation_request": "link",
    "attestation_refused": None,
    "recovery_refused": None,
    "agent_challenge": "link",
    # Subject self-management: builders in notify/enrolment_messages.py.
    "webauthn_link": "link",
    "contact_confirmation": "code",
    "contact_changed": None,
    "authenticator_bound": None,
    "sign_in_code_used": None,
    # Shared accounts: each owner's own link; the other owners told one was opened.
    "owner_link": "link",
    "owner_link_used": None,
    # Service accounts (notify/service_messages.py).
    "service_secret_link": "link",
    "service_rotation_due": None,
    # A reissue's Temporary Access Pass (notify/tap_messages.py): the link only.
    "temporary_access_pass_link": "link",
    # Operator oversight: an anomaly alert to the security contact.
    "operator_anomaly": None,
}
KINDS: Final = frozenset(SECRET_OF_KIND)
_SECRET_NAMES: Final = frozenset(n for n in SECRET_OF_KIND.values() if n)
#: Context names no template may ever receive (R-23).
FORBIDDEN_NAMES: Final = re.compile(
    r"pass(word)?|totp|otp_secret|secret|recovery_code|replacement|credential", re.IGNORECASE
)
CHANNEL_LABELS: Final[Mapping[str, str]] = {
    "self_service": "self-service portal",
    "helpdesk": "help desk",
    "owner_request": "owner request",
    "campaign": "campaign",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def environment() -> Environment:
    """The template environment: autoescape for ``.html`` only, undefined names fail."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        # Templates ship with the package and never change while it runs: no
        # stat() of the file on every message (the worker renders thousands).
        auto_reload=False,
    )


def render(kind: str, subject: str, context: Mapping[str, object]) -> Rendered:
    """Render ``kind`` (``<kind>.txt`` and ``<kind>.html``) with ``context``.
    Raises ValueError for an unknown kind, a context name that looks like a
    password or factor secret, or a one-time secret that belongs to another kind."""
    check_names(kind, context)
    env = environment()
    values = {**context, "title": subject}
    text = env.get_template(f"{kind}.txt").render(values)
    html = env.get_template(f"{kind}.html").render(values)
    return Rendered(subject=subject, text=text, html=html)


def check_names(kind: str, names: Collection[str]) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown message kind '{kind}'")
    for name in names:
        if FORBIDDEN_NAMES.search(name):
            raise ValueError(f"message context may not carry '{name}' (R-23)")
        if name in _SECRET_NAMES and name != SECRET_OF_KIND[kind]:
            raise ValueError(f"'{name}' may not appear in a '{kind}' message (R-23)")


def when(at: datetime) -> str:
    """How a time is shown in messages: UTC, to the minute."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def message(kind: str, to: str, case_id: str | None, rendered: Rendered) -> Message:
    """A message of ``kind`` built from a rendered template."""
    return Message(
        to=to,
        subject=rendered.subject,
        body=rendered.text,
        html=rendered.html,
        kind=kind,
        case_id=case_id,
    )


def recovery_refused(*, to: str, case_id: str, display_name: str, instructions: str) -> Message:
    """Tell the subject (never the caller of a self-service request, who may be
    anyone, R-19) that the policy refuses recovery here, and whom to contact."""
    context = {"case_id": case_id, "display_name": display_name, "instructions": instructions}
    rendered = render("recovery_refused", "Your account cannot be recovered online", context)
    return message("recovery_refused", to, case_id, rendered)


def email_code(*, to: str, case_id: str, code: str, minutes: int) -> Message:
    context = {"case_id": case_id, "code": code, "minutes": minutes}
    rendered = render("email_code", "Your Custos verification code", context)
    return message("email_code", to, case_id, rendered)


def reset_link(*, to: str, case_id: str, link: str, minutes: int) -> Message:
    context = {"case_id": case_id, "link": link, "minutes": minutes}
    rendered = render("reset_link", "Complete your account recovery", context)
    return message("reset_link", to, case_id, rendered)


def recovery_notice(
    *,
    to: str,
    case_id: str,
    display_name: str,
    event: str,
    at: datetime,
    channel: str,
    repudiation_link: str,
    expires_days: int,
) -> Message:
    """``event``: ``credential_issued`` or ``completed``."""
    context = {
        "case_id": case_id,
        "display_name": display_name,
        "event": event,
        "at": when(at),
        "channel": CHANNEL_LABELS.get(channel, channel),
        "repudiation_link": repudiation_link,
        "expires_days": expires_days,
    }
    rendered = render("recovery_notice", recovery_subject(event), context)
    return message("recovery_notice", to, case_id, rendered)


def recovery_subject(event: str) -> str:
    if event not in ("credential_issued", "completed"):
        raise ValueError(f"unknown recovery event '{event}'")
    return (
        "Your password was changed"
        if event == "completed"
        else "A recovery of your account was approved"
    )


def recovery_code_used(
    *,
    to: str,
    case_id: str,
    display_name: str,
    at: datetime,
    remaining: int,
    repudiation_link: str,
    expires_days: int,
) -> Message:
    context = {
        "case_id": case_id,
        "display_name": display_name,
        "at": when(at),
        "remaining": remaining,
        "repudiation_link": repudiation_link,
        "expires_days": expires_days,
    }
    rendered = render("recovery_code_used", "A saved recovery code was used", context)
    return message("recovery_code_used", to, case_id, rendered)


def repudiated(
    *,
    to: str,
    case_id: str,
    subject_id: str,
    flagged_by: str,
    source: str,
    reason: str,
    at: datetime,
    state_before: str,
    state_after: str,
    actions: Sequence[str],
) -> Message:
    """The security alert of a fraud flag or repudiation (R-43)."""
    context = {
        "case_id": case_id,
        "subject_id": subject_id,
        "flagged_by": flagged_by,
        "source": source,
        "reason": reason,
        "at": when(at),
        "state_before": state_before,
        "state_after": state_after,
        "actions": list(actions),
    }
    rendered = render(
        "repudiated", f"[Custos security] Recovery {case_id} flagged as fraud", context
    )
    return message("repudiated", to, case_id, rendered)


def break_glass_used(
    *,
    to: str,
    case_id: str,
    subject_id: str,
    exception_id: str,
    invoked_by: str,
    reason: str,
    at: datetime,
    tier: str,
    holds: Sequence[str],
    approvals: int,
    security_groups: Sequence[str],
    state_after: str,
) -> Message:
    """The security alert of a break-glass use: which case and subject, under
    which exception, who invoked it and why, what the case needs now."""
    context = {
        "case_id": case_id,
        "subject_id": subject_id,
        "exception_id": exception_id,
        "invoked_by": invoked_by,
        "reason": reason,
        "at": when(at),
        "tier": tier,
        "holds": list(holds),
        "approvals": approvals,
        "security_groups": list(security_groups),
        "state_after": state_after,
    }
    rendered = render(
        "break_glass_used", f"[Custos security] Break-glass used on recovery {case_id}", context
    )
    return message("break_glass_used", to, case_id, rendered)


def attestation_request(
    *,
    to: str,
    case_id: str,
    display_name: str,
    relation: str,
    channel: str,
    reason: str,
    at: datetime,
    link: str,
    hours: int,
) -> Message:
    """Ask a manager or sponsor to attest or refuse a recovery: who asks, why,
    when and through which channel; never a secret of the subject."""
    context = {
        "case_id": case_id,
        "display_name": display_name,
        "relation": relation,
        "channel": CHANNEL_LABELS.get(channel, channel),
        "reason": reason,
        "at": when(at),
        "link": link,
        "hours": hours,
    }
    rendered = render(
        "attestation_request", f"Please confirm the account recovery of {display_name}", context
    )
    return message("attestation_request", to, case_id, rendered)


def attestation_refused(
    *,
    to: str,
    case_id: str,
    subject_id: str,
    attester_id: str,
    relation: str,
    at: datetime,
    state: str,
) -> Message:
    """The security alert when a manager or sponsor refuses to attest."""
    context = {
        "case_id": case_id,
        "subject_id": subject_id,
        "attester_id": attester_id,
        "relation": relation,
        "at": when(at),
        "state": state,
    }
    rendered = render(
        "attestation_refused", f"[Custos security] Attestation refused for {case_id}", context
    )
    return message("attestation_refused", to, case_id, rendered)


def agent_challenge(*, to: str, case_id: str, mode: str, link: str, minutes: int) -> Message:
    """The link to the page where the subject answers an agent's challenge on
    their own device; ``mode`` is ``totp`` or ``contact_code`` (whose code
    travels in a separate ``email_code`` message)."""
    context = {"case_id": case_id, "mode": mode, "link": link, "minutes": minutes}
    rendered = render("agent_challenge", "Verify your identity for the help desk", context)
    return message("agent_challenge", to, case_id, rendered)


def owner_link(
    *, to: str, case_id: str, account: str, requested_by: str, link: str, minutes: int
) -> Message:
    """One owner's own one-time link to a shared account's new credential."""
    context = {
        "case_id": case_id,
        "account": account,
        "requested_by": requested_by,
        "link": link,
        "minutes": minutes,
    }
    rendered = render("owner_link", f"New credential for shared account {account}", context)
    return message("owner_link", to, case_id, rendered)


def owner_link_used(*, to: str, case_id: str, account: str, owner: str, at: datetime) -> Message:
    """Another owner opened their link: the new credential is in force."""
    context = {"case_id": case_id, "account": account, "owner": owner, "at": when(at)}
    rendered = render("owner_link_used", f"Shared account {account} has a new credential", context)
    return message("owner_link_used", to, case_id, rendered)


def operator_anomaly(
    *,
    to: str,
    alert_id: str,
    operator: str,
    signal: str,
    summary: str,
    at: datetime,
    evidence: Sequence[int],
) -> Message:
    """An operator anomaly alert (docs/oversight.md): what was seen and the
    ledger seqs that show it; never a secret."""
    context = {
        "alert_id": alert_id,
        "operator": operator,
        "signal": signal,
        "summary": summary,
        "at": when(at),
        "evidence": list(evidence),
    }
    rendered = render(
        "operator_anomaly", f"[Custos security] Operator {operator}: {signal} anomaly", context
    )
    return message("operator_anomaly", to, None, rendered)
