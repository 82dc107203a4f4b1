"""The message that brings a reissued subject the one-time link to the
Temporary Access Pass Entra ID made for them (docs/policy.md#temporary_access_pass).
It carries the link, never the pass (R-23)."""

from __future__ import annotations

from custos.notify.base import Message
from custos.notify.messages import message, render


def tap_link(
    *, to: str, case_id: str, target: str, account: str, link: str, minutes: int, lifetime: int
) -> Message:
    context = {
        "case_id": case_id,
        "target": target,
        "account": account,
        "link": link,
        "minutes": minutes,
        "lifetime": lifetime,
    }
    rendered = render(
        "temporary_access_pass_link", f"Your Temporary Access Pass for {account}", context
    )
    return message("temporary_access_pass_link", to, case_id, rendered)
