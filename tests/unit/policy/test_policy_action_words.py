"""The plain words ``custos policy check`` and the console use for each tier
action (custos.policy.actions, docs/policy.md#actions), word for word: the
outcome of every action, what a refuse tier's caller is told, a rotate tier's
settings (R-40) and how the owners of a shared account receive the credential."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custos.domain.model import CredentialAction, SubjectKind
from custos.policy.actions import OUTCOMES, SHARED_ACCOUNTS, explain, matches_shared, outcome
from custos.policy.rotation import Rotation

SHARED = (
    "for a shared account: only an owner asks, and Custos generates the password; "
    "each owner gets their own one-time link showing it once"
)
ROTATION = Rotation(
    length=32,
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789",
    grace_period=timedelta(hours=2),
    max_age=timedelta(days=30),
)


@pytest.mark.parametrize(
    ("action", "words"),
    [
        (CredentialAction.RESET_TOKEN, "a one-time reset link (the subject sets a new password)"),
        (CredentialAction.TEMP_PASSWORD, "a temporary password, changed at the next logon"),
        (
            CredentialAction.REISSUE,
            "a reissue: a one-time link to a new password; every session ended where a "
            "target can, every outstanding token voided, every authenticator removed (in "
            "Custos and on targets that remove second factors), re-enrolment before the "
            "next sign-in",
        ),
        (
            CredentialAction.REPROOF,
            "identity re-proofing through the identity verification provider before any "
            "other proof, then a one-time reset link",
        ),
        (CredentialAction.REFUSE, "recovery refused; the caller is told whom to contact"),
        (CredentialAction.BLOCK, "recovery refused"),
        (
            CredentialAction.ROTATE,
            "a rotation: Custos generates the service account's secret (the tier's length "
            "and alphabet), sets it on every target, and the owner retrieves it once "
            "through a one-time link; where a target holds two credentials the old one "
            "works until the grace period ends, elsewhere it stops at once",
        ),
        (
            CredentialAction.FORCE_RESET,
            "campaigns only: a random password nobody learns on every account; the subject "
            "recovers through the ordinary path",
        ),
        (
            CredentialAction.REVOKE_SESSIONS,
            "campaigns only: every session ended on every target that holds sessions",
        ),
    ],
)
def test_each_action_in_words(action: CredentialAction, words: str) -> None:
    assert outcome(action) == words
    assert explain(action) == words


def test_every_action_has_words_and_an_unknown_one_reads_as_spelled() -> None:
    assert set(OUTCOMES) == set(CredentialAction)
    assert outcome("teleport") == "teleport"
    assert SHARED_ACCOUNTS == SHARED


@pytest.mark.parametrize(
    ("action", "instructions", "rotation", "shared", "words"),
    [
        (CredentialAction.REFUSE, "Call X.", None, False,
         'recovery refused; the caller is told whom to contact: "Call X."'),
        (CredentialAction.REFUSE, "", None, False,
         "recovery refused; the caller is told whom to contact"),
        (CredentialAction.REFUSE, None, None, True,
         "recovery refused; the caller is told whom to contact"),
        (CredentialAction.BLOCK, "Call X.", None, False, "recovery refused"),
        (CredentialAction.ROTATE, None, ROTATION, False,
         OUTCOMES[CredentialAction.ROTATE] + " (32 characters of 36, grace period 2h, "
         "rotated at the latest after 30d)"),
        (CredentialAction.ROTATE, None, None, True, OUTCOMES[CredentialAction.ROTATE]),
        (CredentialAction.RESET_TOKEN, None, ROTATION, False,
         OUTCOMES[CredentialAction.RESET_TOKEN]),
        (CredentialAction.RESET_TOKEN, None, None, True,
         OUTCOMES[CredentialAction.RESET_TOKEN] + "; " + SHARED),
        (CredentialAction.TEMP_PASSWORD, None, None, True,
         OUTCOMES[CredentialAction.TEMP_PASSWORD] + "; " + SHARED),
        (CredentialAction.REISSUE, None, None, True,
         OUTCOMES[CredentialAction.REISSUE] + "; " + SHARED),
        (CredentialAction.REPROOF, None, None, True, OUTCOMES[CredentialAction.REPROOF]),
        (CredentialAction.BLOCK, None, None, True, "recovery refused"),
    ],
)  # fmt: skip
def test_explain_adds_instructions_rotation_and_shared_accounts(
    action: CredentialAction,
    instructions: str | None,
    rotation: Rotation | None,
    shared: bool,
    words: str,
) -> None:
    assert explain(action, instructions, rotation, shared=shared) == words


def test_rotation_words_spell_compound_durations() -> None:
    rotation = Rotation(
        length=40, grace_period=timedelta(hours=1, minutes=30), max_age=timedelta(days=90)
    )
    assert explain(CredentialAction.ROTATE, None, rotation).endswith(
        " (40 characters of 57, grace period 1h30m, rotated at the latest after 90d)"
    )


@pytest.mark.parametrize(
    ("kind", "shared"),
    [
        (None, False),
        ("shared", True),
        (SubjectKind.SHARED, True),
        ("human", False),
        (["human", "shared"], True),
        (("service",), False),
        ((SubjectKind.HUMAN, SubjectKind.SHARED), True),
        (frozenset({"shared"}), True),
        ({"human"}, False),
        ([], False),
    ],
)
def test_a_tier_names_shared_accounts_only_by_listing_them(kind: object, shared: bool) -> None:
    assert matches_shared(kind) is shared
