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
    CredentialAction.ROTATE: (
        "a rotation: Custos generates the service account's secret (the tier's length "
        "and alphabet), sets it on every target, and the owner retrieves it once "
        "through a one-time link; where a target holds two credentials the old one "
        "works until the grace period ends, elsewhere it stops at once"
    ),
    CredentialAction.FORCE_RESET: (
        "campaigns only: a random password nobody learns on every account; the subject "
        "recovers through the ordinary path"
    ),
    CredentialAction.REVOKE_SESSIONS: (
        "campaigns only: every session ended on every target that holds sessions"
    ),
}


def outcome(action: str) -> str:
    """The plain words for ``action`` (an unknown one as it is spelled)."""
    return OUTCOMES.get(action, action)


#: What a shared account's recovery does instead of the subject's own link
#: (docs/shared-accounts.md).
SHARED_ACCOUNTS = (
    "for a shared account: only an owner asks, and Custos generates the password; "
    "each owner gets their own one-time link showing it once"
)
_LINK_ACTIONS = frozenset(
    {CredentialAction.RESET_TOKEN, CredentialAction.TEMP_PASSWORD, CredentialAction.REISSUE}
)


def explain(
    action: CredentialAction,
    instructions: str | None = None,
    rotation: object = None,
    *,
    shared: bool = False,
) -> str:
    """One line for ``custos policy check``: the outcome, for a refuse tier the
    instructions the caller gets, for a rotate tier its rotation settings, and
    for a tier matching shared accounts (``shared``) how their owners receive
    the credential."""
    text = outcome(action)
    if action == CredentialAction.REFUSE and instructions:
        text += f': "{instructions}"'
    if action == CredentialAction.ROTATE and rotation is not None:
        text += f" ({_rotation_words(rotation)})"
    if shared and action in _LINK_ACTIONS:
        text += f"; {SHARED_ACCOUNTS}"
    return text


def matches_shared(kind: object) -> bool:
    """Whether a tier's ``match.kind`` (None, one kind or a list) names shared
    accounts (a tier that does not name them says nothing about them)."""
    if kind is None:
        return False
    kinds = kind if isinstance(kind, list | tuple | frozenset | set) else [kind]
    return "shared" in {str(k) for k in kinds}


def _rotation_words(rotation: object) -> str:
    from custos.policy.durations import format_duration
    from custos.policy.rotation import Rotation

    assert isinstance(rotation, Rotation)
    return (
        f"{rotation.length} characters of {len(rotation.alphabet)}, grace period "
        f"{format_duration(rotation.grace_period)}, rotated at the latest after "
        f"{format_duration(rotation.max_age)}"
    )
