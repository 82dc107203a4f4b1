"""What each tier action does, in plain words: ``custos policy check``
explains every tier with it, and the console shows it on the policy page, the
help-desk subject page and the case page (docs/policy.md#actions)."""

from __future__ import annotations

from custos.domain.model import CredentialAction

#: A short outcome per action.
OUTCOMES: dict[str, str] = {
    CredentialAction.RESET_TOKEN: "a one-time reset link (the subject sets a new password)",
    CredentialAction.TEMP_PASSWORD: "a temporary password, changed at the next logon",
    CredentialAction.REISSUE: (
        "a reissue: a one-time link to a new password; every session ended where a "
        "target can, every outstanding token voided, every authenticator removed (in "
        "Custos and on targets that remove second factors), re-enrolment before the "
        "next sign-in"
    ),
    CredentialAction.REPROOF: (
        "identity re-proofing through the identity verification provider before any "
        "other proof, then a one-time reset link"
    ),
    CredentialAction.REFUSE: "recovery refused; the caller is told whom to contact",
    CredentialAction.BLOCK: "recovery refused",
}


def outcome(action: str) -> str:
    """The plain words for ``action`` (an unknown one as it is spelled)."""
    return OUTCOMES.get(action, action)


def explain(action: CredentialAction, instructions: str | None = None) -> str:
    """One line for ``custos policy check``: the outcome, and for a refuse tier
    the instructions the caller gets."""
    text = outcome(action)
    if action == CredentialAction.REFUSE and instructions:
        text += f': "{instructions}"'
    return text
