"""Where one case lands under one policy and what differs between two landings
(custos.policy.landing), pinned value by value: the JSON of a landing and of a
difference, the reason a held or refused landing records, the direction of
every kind of difference and the effect a set of differences has. The totals
of ``custos policy simulate`` and its console page read exactly these values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from custos.domain.model import Channel, CredentialAction, Requirements, Subject
from custos.policy.engine import Opening
from custos.policy.landing import (
    NO_TIER,
    OUTCOME_WORDS,
    Difference,
    Direction,
    Effect,
    Landing,
    differences,
    effect_of,
    land,
    landing_of,
)
from custos.policy.loader import parse_policy

POLICY = parse_policy(
    """\
version: 1
risk_bands: {low: [0, 39], high: [40, 100]}
tiers:
  - name: staff
    match: {groups: [staff]}
    risk_analysis: RA-1
    channels: [helpdesk]
    proofing: {factors: 1, methods: [totp, email_code]}
    step_up: {high: {refuse: true, reason: Too risky.}}
    action: reset_token
    token_ttl: 15m
""",
    "landing.yaml",
)


def _req(**changes: object) -> Requirements:
    fields: dict[str, object] = {
        "tier": "t",
        "action": CredentialAction.RESET_TOKEN,
        "channels": frozenset({Channel.HELPDESK}),
        "factors": 2,
        "methods": frozenset({"totp", "email_code", "webauthn"}),
        "phishing_resistant": True,
        "approvals": 1,
        "approver_groups": frozenset({"sec", "ops"}),
        "approval_expiry": timedelta(hours=1),
        "token_ttl": timedelta(minutes=15),
        "post_checks": (),
        "required_targets": None,
        "case_ttl": timedelta(hours=1),
        "max_proofing_failures": 3,
        "policy_hash": "h",
        "policy_version": 1,
        "risk_band": "low",
        "aal": 2,
        "min_ial": 3,
        "required_methods": frozenset({"webauthn", "totp"}),
    }
    fields.update(changes)
    return Requirements(**fields)  # type: ignore[arg-type]


def test_a_landing_reads_every_field_of_the_requirements_sorted() -> None:
    landing = landing_of(_req(), Channel.HELPDESK)
    assert landing == Landing(
        tier="t",
        opening=Opening.PROOFING,
        reason="",
        risk_band="low",
        action="reset_token",
        factors=2,
        methods=("email_code", "totp", "webauthn"),
        required_methods=("totp", "webauthn"),
        phishing_resistant=True,
        min_ial=3,
        aal=2,
        approvals=1,
        approver_groups=("ops", "sec"),
    )
    assert landing.to_json() == {
        "tier": "t",
        "outcome": "proofing",
        "reason": "",
        "risk_band": "low",
        "action": "reset_token",
        "factors": 2,
        "methods": ["email_code", "totp", "webauthn"],
        "required_methods": ["totp", "webauthn"],
        "phishing_resistant": True,
        "min_ial": 3,
        "aal": 2,
        "approvals": 1,
        "approver_groups": ["ops", "sec"],
    }
    assert not landing.refused
    assert landing.tier_label == "t"


def test_a_landings_defaults_ask_for_nothing() -> None:
    bare = Landing(tier=None, opening=Opening.NO_TIER, reason="r", risk_band="b")
    assert (bare.action, bare.factors, bare.methods, bare.required_methods) == ("", 0, (), ())
    assert (bare.phishing_resistant, bare.min_ial, bare.aal) == (False, None, None)
    assert (bare.approvals, bare.approver_groups) == (0, ())
    assert bare.refused
    assert bare.tier_label == NO_TIER == "(no tier)"
    assert bare.to_json()["tier"] is None


@pytest.mark.parametrize(
    ("req", "channel", "held", "opening", "reason"),
    [
        (_req(), Channel.SELF_SERVICE, frozenset(), Opening.CHANNEL_REFUSED,
         "channel 'self_service' is not allowed for tier 't'"),
        (_req(action=CredentialAction.BLOCK), Channel.HELPDESK, frozenset(), Opening.BLOCKED,
         "tier 't' blocks recovery"),
        (_req(refused=True, refusal_reason="no"), Channel.HELPDESK, frozenset(),
         Opening.RISK_REFUSED, "no"),
        (_req(), Channel.HELPDESK, frozenset({"legal_hold", "investigation"}), Opening.HELD,
         "held: investigation, legal_hold"),
        (_req(), Channel.SELF_SERVICE, frozenset({"legal_hold"}), Opening.HELD,
         "held: legal_hold"),
    ],
)  # fmt: skip
def test_a_landing_records_how_and_why_it_leaves_the_opening(
    req: Requirements, channel: Channel, held: frozenset[str], opening: Opening, reason: str
) -> None:
    landing = landing_of(req, channel, held)
    assert (landing.opening, landing.reason) == (opening, reason)
    assert landing.refused
    assert landing.to_json()["outcome"] == str(opening)


def test_land_uses_the_policys_band_for_the_score_and_the_subjects_holds() -> None:
    staff = Subject(id="s", display_name="S", groups=frozenset({"staff"}))
    low = land(POLICY, staff, Channel.HELPDESK, 39)
    assert (low.tier, low.opening, low.reason, low.risk_band) == (
        "staff",
        Opening.PROOFING,
        "",
        "low",
    )
    assert (low.factors, low.methods) == (1, ("email_code", "totp"))
    high = land(POLICY, staff, Channel.HELPDESK, 40)
    assert (high.opening, high.reason, high.risk_band) == (
        Opening.RISK_REFUSED,
        "Too risky.",
        "high",
    )
    held = Subject(
        id="s", display_name="S", groups=frozenset({"staff"}), holds=frozenset({"legal_hold"})
    )
    assert land(POLICY, held, Channel.HELPDESK, 0).reason == "held: legal_hold"


def test_land_without_a_tier_refuses_with_the_engines_message_and_the_band() -> None:
    landing = land(POLICY, Subject(id="x", display_name="X"), Channel.HELPDESK, 50)
    assert landing == Landing(
        tier=None,
        opening=Opening.NO_TIER,
        reason="no policy tier matches subject 'x' (kind human, employment employee, "
        "privileged False)",
        risk_band="high",
    )


def test_a_difference_reads_as_before_and_after_unless_said_otherwise() -> None:
    plain = Difference("factors", "1", "2", Direction.MORE)
    assert str(plain) == "factors 1 → 2"
    assert plain.said == ""
    assert plain.to_json() == {
        "what": "factors",
        "before": "1",
        "after": "2",
        "direction": "more",
    }
    said = Difference("methods", "a", "b", Direction.OTHER, "methods +b -a")
    assert str(said) == "methods +b -a"
    assert said.to_json()["direction"] == "other"


def _on(**changes: object) -> Landing:
    """A landing that goes on to proofing; ``changes`` alter it."""
    fields: dict[str, object] = {
        "tier": "t",
        "opening": Opening.PROOFING,
        "reason": "",
        "risk_band": "low",
        "action": "reset_token",
        "factors": 1,
        "methods": ("email_code", "totp"),
        "required_methods": (),
        "phishing_resistant": False,
        "min_ial": None,
        "aal": None,
        "approvals": 1,
        "approver_groups": ("sec",),
    }
    fields.update(changes)
    return Landing(**fields)  # type: ignore[arg-type]


def _said(found: list[Difference]) -> list[tuple[str, str, str, str, str]]:
    return [(d.what, d.before, d.after, str(d.direction), str(d)) for d in found]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ({}, {}, []),
        ({"tier": "a"}, {"tier": None},
         [("tier", "a", "(no tier)", "other", "tier a → (no tier)")]),
        ({"factors": 1}, {"factors": 2}, [("factors", "1", "2", "more", "factors 1 → 2")]),
        ({"factors": 2}, {"factors": 1}, [("factors", "2", "1", "less", "factors 2 → 1")]),
        ({"phishing_resistant": False}, {"phishing_resistant": True},
         [("phishing-resistant", "no", "yes", "more", "phishing-resistant no → yes")]),
        ({"phishing_resistant": True}, {"phishing_resistant": False},
         [("phishing-resistant", "yes", "no", "less", "phishing-resistant yes → no")]),
        ({"min_ial": None}, {"min_ial": 2}, [("min IAL", "-", "2", "more", "min IAL - → 2")]),
        ({"min_ial": 3}, {"min_ial": None}, [("min IAL", "3", "-", "less", "min IAL 3 → -")]),
        ({"min_ial": 2}, {"min_ial": 3}, [("min IAL", "2", "3", "more", "min IAL 2 → 3")]),
        ({"aal": 1}, {"aal": 2}, [("AAL", "1", "2", "more", "AAL 1 → 2")]),
        ({"aal": 3}, {"aal": 2}, [("AAL", "3", "2", "less", "AAL 3 → 2")]),
        ({"aal": None}, {"aal": 1}, [("AAL", "-", "1", "more", "AAL - → 1")]),
        ({"required_methods": ()}, {"required_methods": ("totp",)},
         [("required methods", "-", "totp", "more", "required methods +totp")]),
        ({"required_methods": ("a", "totp")}, {"required_methods": ("totp",)},
         [("required methods", "a, totp", "totp", "less", "required methods -a")]),
        ({"required_methods": ("a",)}, {"required_methods": ("b",)},
         [("required methods", "a", "b", "other", "required methods +b -a")]),
        ({"methods": ("email_code", "totp")}, {"methods": ("totp", "webauthn")},
         [("methods", "email_code, totp", "totp, webauthn", "other",
           "methods +webauthn -email_code")]),
        ({"methods": ("totp",)}, {"methods": ("email_code", "totp")},
         [("methods", "totp", "email_code, totp", "other", "methods +email_code")]),
        ({"methods": ("email_code", "totp")}, {"methods": ("totp",)},
         [("methods", "email_code, totp", "totp", "other", "methods -email_code")]),
        ({"approvals": 1}, {"approvals": 2}, [("approvals", "1", "2", "more", "approvals 1 → 2")]),
        ({"approvals": 2}, {"approvals": 0}, [("approvals", "2", "0", "less", "approvals 2 → 0")]),
        ({"approver_groups": ("sec",)}, {"approver_groups": ()},
         [("approver groups", "sec", "-", "other", "approver groups -sec")]),
        ({"approver_groups": ()}, {"approver_groups": ("ops", "sec")},
         [("approver groups", "-", "ops, sec", "other", "approver groups +ops +sec")]),
        ({"action": "reset_token"}, {"action": "reissue"},
         [("action", "reset_token", "reissue", "other", "action reset_token → reissue")]),
        ({"tier": "a", "factors": 1, "approvals": 2}, {"tier": "b", "factors": 2, "approvals": 1},
         [("tier", "a", "b", "other", "tier a → b"),
          ("factors", "1", "2", "more", "factors 1 → 2"),
          ("approvals", "2", "1", "less", "approvals 2 → 1")]),
    ],
)  # fmt: skip
def test_each_difference_between_two_landings_that_go_on(
    before: dict[str, object], after: dict[str, object], expected: list[tuple[str, ...]]
) -> None:
    assert _said(differences(_on(**before), _on(**after))) == expected


def test_every_difference_in_order_when_all_of_them_change() -> None:
    before = _on(
        tier="a",
        factors=1,
        phishing_resistant=False,
        min_ial=1,
        aal=1,
        required_methods=(),
        methods=("totp",),
        approvals=1,
        approver_groups=(),
        action="reset_token",
    )
    after = _on(
        tier="b",
        factors=2,
        phishing_resistant=True,
        min_ial=2,
        aal=2,
        required_methods=("totp",),
        methods=("webauthn",),
        approvals=2,
        approver_groups=("sec",),
        action="reissue",
    )
    assert [d.what for d in differences(before, after)] == [
        "tier",
        "factors",
        "phishing-resistant",
        "min IAL",
        "AAL",
        "required methods",
        "methods",
        "approvals",
        "approver groups",
        "action",
    ]


@pytest.mark.parametrize(
    ("before", "after", "direction"),
    [
        (Opening.PROOFING, Opening.BLOCKED, "more"),
        (Opening.RISK_REFUSED, Opening.PROOFING, "less"),
        (Opening.BLOCKED, Opening.TIER_REFUSED, "other"),
        (Opening.CHANNEL_REFUSED, Opening.HELD, "other"),
    ],
)
def test_a_changed_outcome_is_said_in_words_and_stops_the_comparison(
    before: Opening, after: Opening, direction: str
) -> None:
    # Proofing and approvals differ too, but a refused case asks for nothing.
    recorded = _on(opening=before, factors=1, approvals=1)
    candidate = _on(opening=after, factors=3, approvals=3)
    assert _said(differences(recorded, candidate)) == [
        (
            "outcome",
            str(before),
            str(after),
            direction,
            f"{OUTCOME_WORDS[before]} → {OUTCOME_WORDS[after]}",
        )
    ]


def test_two_refused_landings_with_the_same_outcome_differ_only_in_tier() -> None:
    recorded = _on(tier="a", opening=Opening.BLOCKED, factors=1)
    candidate = _on(tier="b", opening=Opening.BLOCKED, factors=3)
    assert _said(differences(recorded, candidate)) == [("tier", "a", "b", "other", "tier a → b")]


def test_outcome_words() -> None:
    assert OUTCOME_WORDS == {
        Opening.PROOFING: "goes on to proofing",
        Opening.BLOCKED: "blocked",
        Opening.TIER_REFUSED: "refused by its tier",
        Opening.CHANNEL_REFUSED: "refused for its channel",
        Opening.RISK_REFUSED: "refused at its risk band",
        Opening.NO_TIER: "refused: no tier matches",
        Opening.HELD: "blocked by a hold",
    }


def _diff(direction: Direction) -> Difference:
    return Difference("x", "1", "2", direction)


@pytest.mark.parametrize(
    ("recorded", "candidate", "directions", "effect"),
    [
        (Opening.PROOFING, Opening.PROOFING, [], Effect.UNCHANGED),
        (Opening.PROOFING, Opening.PROOFING, [Direction.MORE], Effect.STRICTER),
        (Opening.PROOFING, Opening.PROOFING, [Direction.MORE, Direction.MORE], Effect.STRICTER),
        (Opening.PROOFING, Opening.PROOFING, [Direction.LESS], Effect.LOOSER),
        (Opening.PROOFING, Opening.PROOFING, [Direction.MORE, Direction.LESS], Effect.MIXED),
        (Opening.PROOFING, Opening.PROOFING, [Direction.OTHER], Effect.OTHER),
        (Opening.PROOFING, Opening.PROOFING, [Direction.OTHER, Direction.MORE], Effect.STRICTER),
        (Opening.PROOFING, Opening.PROOFING, [Direction.OTHER, Direction.LESS], Effect.LOOSER),
        (Opening.PROOFING, Opening.BLOCKED, [Direction.MORE], Effect.NEWLY_REFUSED),
        (Opening.PROOFING, Opening.NO_TIER, [Direction.LESS], Effect.NEWLY_REFUSED),
        (Opening.HELD, Opening.PROOFING, [Direction.MORE], Effect.NO_LONGER_REFUSED),
        (Opening.BLOCKED, Opening.BLOCKED, [], Effect.UNCHANGED),
        (Opening.BLOCKED, Opening.TIER_REFUSED, [Direction.OTHER], Effect.OTHER),
        (Opening.BLOCKED, Opening.HELD, [Direction.MORE], Effect.STRICTER),
    ],
)
def test_the_effect_of_a_set_of_differences(
    recorded: Opening, candidate: Opening, directions: list[Direction], effect: Effect
) -> None:
    found = [_diff(d) for d in directions]
    assert effect_of(_on(opening=recorded), _on(opening=candidate), found) == effect


def test_effect_and_direction_values_are_the_reports_words() -> None:
    assert [str(e) for e in Effect] == [
        "unchanged",
        "newly_refused",
        "no_longer_refused",
        "stricter",
        "looser",
        "mixed",
        "other",
        "not_replayed",
    ]
    assert [str(d) for d in Direction] == ["more", "less", "other"]
