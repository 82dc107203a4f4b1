"""Where one case lands under one policy, and what differs between two such
landings: the comparison ``custos policy simulate`` makes for every case
(:mod:`custos.policy.simulate`). Pure; the landing under a policy is the engine's
own answer (:func:`~custos.policy.engine.select_requirements`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from custos.domain.errors import RecoveryBlocked
from custos.domain.model import Channel, Requirements, RiskAssessment, Subject
from custos.policy.engine import Opening, band_for, opening_of, refusal_reason, select_requirements
from custos.policy.loader import LoadedPolicy

#: The candidate tier of a case no tier of the candidate describes.
NO_TIER = "(no tier)"


class Effect(StrEnum):
    """What the candidate does to one case, compared with what it recorded."""

    UNCHANGED = "unchanged"
    NEWLY_REFUSED = "newly_refused"  # it went on to proofing; the candidate refuses it
    NO_LONGER_REFUSED = "no_longer_refused"  # it was refused; the candidate lets it proceed
    STRICTER = "stricter"  # more proofing or more approvals, nothing less
    LOOSER = "looser"  # less proofing or fewer approvals, nothing more
    MIXED = "mixed"  # more of one, less of another
    OTHER = "other"  # different, neither stricter nor looser (tier, methods, action...)
    NOT_REPLAYED = "not_replayed"  # the subject is no longer known


#: How each way out of the opening reads in a difference.
OUTCOME_WORDS = {
    Opening.PROOFING: "goes on to proofing",
    Opening.BLOCKED: "blocked",
    Opening.TIER_REFUSED: "refused by its tier",
    Opening.CHANNEL_REFUSED: "refused for its channel",
    Opening.RISK_REFUSED: "refused at its risk band",
    Opening.NO_TIER: "refused: no tier matches",
    Opening.HELD: "blocked by a hold",
}


class Direction(StrEnum):
    MORE = "more"  # asks more of the subject or the approvers
    LESS = "less"
    OTHER = "other"  # differs without being more or less


@dataclass(frozen=True, slots=True)
class Landing:
    """Where a case lands under one policy: its tier, how it leaves the opening
    and, when it goes on, what it asks for. ``tier`` is None when no tier matches."""

    tier: str | None
    opening: Opening
    reason: str
    risk_band: str
    action: str = ""
    factors: int = 0
    methods: tuple[str, ...] = ()
    required_methods: tuple[str, ...] = ()
    phishing_resistant: bool = False
    min_ial: int | None = None
    aal: int | None = None
    approvals: int = 0
    approver_groups: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        return self.opening.refused

    @property
    def tier_label(self) -> str:
        return self.tier if self.tier is not None else NO_TIER

    def to_json(self) -> dict[str, object]:
        return {
            "tier": self.tier,
            "outcome": str(self.opening),
            "reason": self.reason,
            "risk_band": self.risk_band,
            "action": self.action,
            "factors": self.factors,
            "methods": list(self.methods),
            "required_methods": list(self.required_methods),
            "phishing_resistant": self.phishing_resistant,
            "min_ial": self.min_ial,
            "aal": self.aal,
            "approvals": self.approvals,
            "approver_groups": list(self.approver_groups),
        }


def landing_of(req: Requirements, channel: Channel, held: frozenset[str] = frozenset()) -> Landing:
    """The landing a case's frozen requirements describe; ``held``: the kinds of
    the holds standing on the subject, which block the case whatever its tier."""
    opening = Opening.HELD if held else opening_of(req, channel)
    return Landing(
        tier=req.tier,
        opening=opening,
        reason=f"held: {', '.join(sorted(held))}"
        if held
        else refusal_reason(req, channel, opening),
        risk_band=req.risk_band,
        action=str(req.action),
        factors=req.factors,
        methods=tuple(sorted(req.methods)),
        required_methods=tuple(sorted(req.required_methods)),
        phishing_resistant=req.phishing_resistant,
        min_ial=req.min_ial,
        aal=req.aal,
        approvals=req.approvals,
        approver_groups=tuple(sorted(req.approver_groups)),
    )


def land(policy: LoadedPolicy, subject: Subject, channel: Channel, risk_score: int) -> Landing:
    """Where a request of ``subject`` over ``channel`` at ``risk_score`` lands
    under ``policy``: the engine itself, with ``policy``'s band for the score;
    then, as when a case opens, a hold standing on the subject (``subject.holds``)
    blocks it whatever the tier (no tier at all refuses it first)."""
    band = band_for(policy, risk_score)
    risk = RiskAssessment(score=risk_score, band=band, reasons=())
    try:
        req = select_requirements(policy, subject, channel, risk)
    except RecoveryBlocked as exc:
        return Landing(tier=None, opening=Opening.NO_TIER, reason=exc.message, risk_band=band)
    return landing_of(req, channel, frozenset(subject.holds))


@dataclass(frozen=True, slots=True)
class Difference:
    """One thing the candidate changes for a case, e.g. factors 1 -> 2 (more)."""

    what: str
    before: str
    after: str
    direction: Direction
    #: How to say it when "before -> after" reads badly (two lists of methods).
    said: str = ""

    def __str__(self) -> str:
        return self.said or f"{self.what} {self.before} → {self.after}"

    def to_json(self) -> dict[str, object]:
        return {
            "what": self.what,
            "before": self.before,
            "after": self.after,
            "direction": str(self.direction),
        }


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _words(values: tuple[str, ...]) -> str:
    return ", ".join(values) or "-"


def _set_difference(
    what: str, before: tuple[str, ...], after: tuple[str, ...], *, ordered: bool = False
) -> Difference:
    """Two lists that differ, said as what was added and removed: ``methods
    +webauthn -email_code``. ``ordered``: a list where more asks more (methods
    that must all pass), so only additions are more and only removals less."""
    added = [v for v in after if v not in before]
    removed = [v for v in before if v not in after]
    direction = Direction.OTHER
    if ordered and not removed:
        direction = Direction.MORE
    elif ordered and not added:
        direction = Direction.LESS
    said = f"{what} {' '.join([f'+{v}' for v in added] + [f'-{v}' for v in removed])}"
    return Difference(what, _words(before), _words(after), direction, said)


def _ordered(what: str, before: int | None, after: int | None) -> list[Difference]:
    """A difference in a number where more asks more (None counts as nothing)."""
    if before == after:
        return []
    more = (after or 0) > (before or 0)
    return [
        Difference(
            what, _number(before), _number(after), Direction.MORE if more else Direction.LESS
        )
    ]


def differences(recorded: Landing, candidate: Landing) -> list[Difference]:
    """What differs between two landings. Proofing and approvals are compared
    only when both go on to proofing (a refused case asks for nothing)."""
    found: list[Difference] = []
    if recorded.tier != candidate.tier:
        found.append(Difference("tier", recorded.tier_label, candidate.tier_label, Direction.OTHER))
    if recorded.opening != candidate.opening:
        direction = (
            Direction.OTHER
            if recorded.refused == candidate.refused
            else Direction.MORE
            if candidate.refused
            else Direction.LESS
        )
        before, after = str(recorded.opening), str(candidate.opening)
        said = f"{OUTCOME_WORDS[recorded.opening]} → {OUTCOME_WORDS[candidate.opening]}"
        found.append(Difference("outcome", before, after, direction, said))
    if recorded.refused or candidate.refused:
        return found
    found += _ordered("factors", recorded.factors, candidate.factors)
    if recorded.phishing_resistant != candidate.phishing_resistant:
        found.append(
            Difference(
                "phishing-resistant",
                "yes" if recorded.phishing_resistant else "no",
                "yes" if candidate.phishing_resistant else "no",
                Direction.MORE if candidate.phishing_resistant else Direction.LESS,
            )
        )
    found += _ordered("min IAL", recorded.min_ial, candidate.min_ial)
    found += _ordered("AAL", recorded.aal, candidate.aal)
    if recorded.required_methods != candidate.required_methods:
        found.append(
            _set_difference(
                "required methods",
                recorded.required_methods,
                candidate.required_methods,
                ordered=True,
            )
        )
    if recorded.methods != candidate.methods:
        found.append(_set_difference("methods", recorded.methods, candidate.methods))
    found += _ordered("approvals", recorded.approvals, candidate.approvals)
    if recorded.approver_groups != candidate.approver_groups:
        found.append(
            _set_difference("approver groups", recorded.approver_groups, candidate.approver_groups)
        )
    if recorded.action != candidate.action:
        found.append(Difference("action", recorded.action, candidate.action, Direction.OTHER))
    return found


#: Differences that are about proofing, and about approvals (for the totals).
PROOFING = frozenset({"factors", "phishing-resistant", "min IAL", "AAL", "required methods"})
APPROVALS = frozenset({"approvals"})


def effect_of(recorded: Landing, candidate: Landing, found: Iterable[Difference]) -> Effect:
    if recorded.refused and not candidate.refused:
        return Effect.NO_LONGER_REFUSED
    if candidate.refused and not recorded.refused:
        return Effect.NEWLY_REFUSED
    directions = {d.direction for d in found}
    if not directions:
        return Effect.UNCHANGED
    more, less = Direction.MORE in directions, Direction.LESS in directions
    if more and less:
        return Effect.MIXED
    if more:
        return Effect.STRICTER
    return Effect.LOOSER if less else Effect.OTHER
