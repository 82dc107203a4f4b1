"""Messages of subject self-management (docs/enrolment.md). None carries a
factor secret: a contact confirmation code only confirms an address."""

from __future__ import annotations

from datetime import datetime

from custos.notify.base import Message
from custos.notify.messages import message as _message
from custos.notify.messages import render, when


def webauthn_link(*, to: str, case_id: str, link: str, minutes: int) -> Message:
    context = {"case_id": case_id, "link": link, "minutes": minutes}
    rendered = render("webauthn_link", "Confirm your recovery with your security key", context)
    return _message("webauthn_link", to, case_id, rendered)


def contact_confirmation(*, to: str, display_name: str, code: str, minutes: int) -> Message:
    context = {"display_name": display_name, "code": code, "minutes": minutes}
    rendered = render("contact_confirmation", "Confirm your recovery contact", context)
    return _message("contact_confirmation", to, None, rendered)


def contact_changed(*, to: str, display_name: str, change: str, at: datetime) -> Message:
    """To the OLD address (R-23): what changed, no secret."""
    context = {"display_name": display_name, "change": change, "at": when(at)}
    rendered = render("contact_changed", "Your recovery contacts changed", context)
    return _message("contact_changed", to, None, rendered)


def authenticator_bound(
    *, to: str, display_name: str, method: str, label: str, at: datetime
) -> Message:
    """Binding a new authenticator, told through email: another channel (R-22)."""
    context = {"display_name": display_name, "method": method, "label": label, "at": when(at)}
    rendered = render("authenticator_bound", "A new sign-in method was added", context)
    return _message("authenticator_bound", to, None, rendered)


def sign_in_code_used(*, to: str, display_name: str, at: datetime, remaining: int) -> Message:
    """A saved recovery code was spent as a sign-in factor (R-12, R-23). The
    replacement code is never in it."""
    context = {"display_name": display_name, "at": when(at), "remaining": remaining}
    rendered = render("sign_in_code_used", "A saved recovery code was used to sign in", context)
    return _message("sign_in_code_used", to, None, rendered)
