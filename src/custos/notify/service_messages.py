"""Messages to the owners of service accounts (docs/service-accounts.md): the
one-time link to a rotated value, and a rotation that falls due. Neither ever
carries the value itself (R-23, R-42)."""

from __future__ import annotations

from custos.notify.base import Message
from custos.notify.messages import message, render


def secret_link(
    *, to: str, case_id: str, account: str, link: str, minutes: int, grace_words: str
) -> Message:
    context = {
        "case_id": case_id,
        "account": account,
        "link": link,
        "minutes": minutes,
        "grace_words": grace_words,
    }
    rendered = render("service_secret_link", f"New value for service account {account}", context)
    return message("service_secret_link", to, case_id, rendered)


def rotation_due(*, to: str, case_id: str, account: str, why: str) -> Message:
    context = {"case_id": case_id, "account": account, "why": why}
    rendered = render(
        "service_rotation_due", f"Service account {account} is due for rotation", context
    )
    return message("service_rotation_due", to, case_id, rendered)
