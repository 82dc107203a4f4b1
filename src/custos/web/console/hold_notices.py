"""What the pages with holds (a subject's page, the holds list) say after a
hold was set or lifted (POST, redirect, GET with ``?notice=KEY``): only these
keys mean anything, so a crafted URL cannot put words on the page."""

from __future__ import annotations

from typing import Final

from custos.web.console.case_notices import Notice

NOTICES: Final[dict[str, Notice]] = {
    "hold_set": Notice(
        "ok",
        "The hold is set and recorded in the ledger. Recovery is refused while it stands, "
        "and open cases wait in 'blocked'. A different person lifts it.",
    ),
    "hold_lifted": Notice(
        "ok",
        "The hold is lifted and recorded in the ledger. Cases it blocked went back where "
        "they stood, unless another hold still stands.",
    ),
}

#: The hold form as a page first shows it.
EMPTY_HOLD_FORM: Final[dict[str, str]] = {
    "kind": "",
    "reason": "",
    "ticket": "",
    "ends_at": "",
    "group": "",
}


def notice_for(key: str | None) -> Notice | None:
    return NOTICES.get(key) if key else None
