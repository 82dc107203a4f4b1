"""Policy simulation: where recorded cases would have landed under a candidate
policy (``custos policy simulate``, the console's policy page; docs/policy.md).

Pure: the service layer reads the cases, the subjects and the ledger and hands
each case over as a :class:`RecordedCase`; :func:`simulate` replays it through
the real engine (:func:`~custos.policy.engine.select_requirements`, the
candidate's own risk bands over the recorded risk score) and compares the
result with the requirements the case froze when it opened.

A case does not record its subject's attributes (kind, employment, privileged,
groups), so every replay uses the subject's current ones and says so; holds are
records with their times, so the replay takes those that stood when the case
opened (and, as when a case opens, a hold blocks it whatever the tier). Two
things point at attributes that moved since: a directory sync that changed a
tier-deciding attribute after the case opened (the ledger records which ones),
and the recorded policy itself picking another tier for the current attributes
than the case recorded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from custos.domain.model import Channel, Requirements, Subject
from custos.policy.landing import (
    APPROVALS,
    PROOFING,
    Difference,
    Direction,
    Effect,
    Landing,
    differences,
    effect_of,
    land,
    landing_of,
)
from custos.policy.loader import LoadedPolicy

#: The subject attributes tiers match on (``Match``): a change to any other
#: attribute cannot move a case to another tier.
TIER_ATTRIBUTES = frozenset({"kind", "employment", "privileged", "holds", "groups"})


@dataclass(frozen=True, slots=True)
class RecordedCase:
    """One case as the store and the ledger recorded it, ready to replay.

    ``subject`` is the subject's current record (None: no longer known);
    ``holds_then`` the holds that stood when it opened (None: unknown);
    ``changed_since`` names the attributes a directory sync changed after the
    case opened, from the ledger; ``recorded_policy`` is the policy the case's
    hash names, when its text is stored and still loads (None otherwise)."""

    case_id: str
    subject_id: str
    opened_at: datetime
    channel: Channel
    state: str
    risk_score: int
    requirements: Requirements
    subject: Subject | None
    changed_since: tuple[str, ...] = ()
    recorded_policy: LoadedPolicy | None = None
    #: The kinds of the holds that stood on the subject (or its groups) when the
    #: case opened, from the hold records; None: not known, the current ones.
    holds_then: frozenset[str] | None = None

    def subject_then(self) -> Subject | None:
        """The subject as the replay uses it: current, with the holds of then."""
        if self.subject is None or self.holds_then is None:
            return self.subject
        return replace(self.subject, holds=self.holds_then)


@dataclass(frozen=True, slots=True)
class CaseReplay:
    """One case replayed: where it landed, where the candidate puts it, what
    differs, and on which subject attributes the replay stands."""

    case_id: str
    subject_id: str
    opened_at: datetime
    channel: str
    state: str
    risk_score: int
    policy_hash: str
    recorded: Landing
    candidate: Landing | None
    effect: Effect
    differences: tuple[Difference, ...]
    #: How the subject's attributes were obtained, in words (always said).
    attributes: str
    #: Whether the attributes used likely differ from those the case opened with.
    attributes_drifted: bool

    @property
    def tier_changed(self) -> bool:
        return any(d.what == "tier" for d in self.differences)

    def _moved(self, names: frozenset[str], direction: Direction) -> bool:
        return any(d.what in names and d.direction == direction for d in self.differences)

    @property
    def more_proofing(self) -> bool:
        return self._moved(PROOFING, Direction.MORE)

    @property
    def less_proofing(self) -> bool:
        return self._moved(PROOFING, Direction.LESS)

    @property
    def more_approvals(self) -> bool:
        return self._moved(APPROVALS, Direction.MORE)

    @property
    def fewer_approvals(self) -> bool:
        return self._moved(APPROVALS, Direction.LESS)

    def to_json(self) -> dict[str, object]:
        return {
            "case": self.case_id,
            "subject": self.subject_id,
            "opened_at": self.opened_at.isoformat(),
            "channel": self.channel,
            "state": self.state,
            "risk_score": self.risk_score,
            "policy_hash": self.policy_hash,
            "recorded": self.recorded.to_json(),
            "candidate": None if self.candidate is None else self.candidate.to_json(),
            "effect": str(self.effect),
            "differences": [d.to_json() for d in self.differences],
            "attributes": self.attributes,
            "attributes_drifted": self.attributes_drifted,
        }


def replay(candidate: LoadedPolicy, case: RecordedCase) -> CaseReplay:
    """Replay one recorded case under ``candidate``."""
    subject = case.subject_then()
    recorded = landing_of(case.requirements, case.channel, _held(subject))
    if subject is None:
        unknown = "the subject is no longer known: not replayed"
        return _replayed(case, recorded, None, Effect.NOT_REPLAYED, (), unknown, False)
    landed = land(candidate, subject, case.channel, case.risk_score)
    found = tuple(differences(recorded, landed))
    attributes, drifted = _attribute_basis(case, subject, recorded)
    effect = effect_of(recorded, landed, found)
    return _replayed(case, recorded, landed, effect, found, attributes, drifted)


def _replayed(
    case: RecordedCase,
    recorded: Landing,
    candidate: Landing | None,
    effect: Effect,
    found: tuple[Difference, ...],
    attributes: str,
    drifted: bool,
) -> CaseReplay:
    return CaseReplay(
        case_id=case.case_id,
        subject_id=case.subject_id,
        opened_at=case.opened_at,
        channel=str(case.channel),
        state=case.state,
        risk_score=case.risk_score,
        policy_hash=case.requirements.policy_hash,
        recorded=recorded,
        candidate=candidate,
        effect=effect,
        differences=found,
        attributes=attributes,
        attributes_drifted=drifted,
    )


def _held(subject: Subject | None) -> frozenset[str]:
    return frozenset() if subject is None else frozenset(subject.holds)


def _attribute_basis(case: RecordedCase, subject: Subject, recorded: Landing) -> tuple[str, bool]:
    """The sentence that says which attributes the replay used, and whether
    they likely differ from the case's own."""
    parts = ["current attributes (a case does not record them)"]
    if case.holds_then is not None:
        parts.append("holds as the hold records show them when the case opened")
    changed = sorted(set(case.changed_since) & TIER_ATTRIBUTES)
    if changed:
        parts.append(f"a directory sync changed {', '.join(changed)} after the case opened")
    drifted = bool(changed)
    if case.recorded_policy is None:
        parts.append("the recorded policy's text is not available to cross-check them")
    else:
        now = land(case.recorded_policy, subject, case.channel, case.risk_score)
        if now.tier != recorded.tier:
            drifted = True
            parts.append(
                f"the recorded policy now picks '{now.tier_label}', not the recorded "
                f"'{recorded.tier_label}': the subject's attributes have changed since"
            )
    return "; ".join(parts), drifted


@dataclass(frozen=True, slots=True)
class Totals:
    """The replay in numbers. ``by_effect`` lists every effect (zeros too);
    ``transitions`` counts (recorded tier, candidate tier) pairs that differ."""

    cases: int
    replayed: int
    by_effect: tuple[tuple[Effect, int], ...]
    tier_changed: int
    more_proofing: int
    less_proofing: int
    more_approvals: int
    fewer_approvals: int
    newly_refused: int
    no_longer_refused: int
    attributes_drifted: int
    transitions: tuple[tuple[str, str, int], ...]
    recorded_policies: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "cases": self.cases,
            "replayed": self.replayed,
            "by_effect": {str(e): n for e, n in self.by_effect},
            "tier_changed": self.tier_changed,
            "more_proofing": self.more_proofing,
            "less_proofing": self.less_proofing,
            "more_approvals": self.more_approvals,
            "fewer_approvals": self.fewer_approvals,
            "newly_refused": self.newly_refused,
            "no_longer_refused": self.no_longer_refused,
            "attributes_drifted": self.attributes_drifted,
            "transitions": [{"from": a, "to": b, "cases": n} for a, b, n in self.transitions],
            "recorded_policies": list(self.recorded_policies),
        }


def totals_of(replays: Iterable[CaseReplay]) -> Totals:
    cases = list(replays)
    effects = Counter(r.effect for r in cases)
    moves = Counter(
        (r.recorded.tier_label, r.candidate.tier_label)
        for r in cases
        if r.candidate is not None and r.tier_changed
    )
    return Totals(
        cases=len(cases),
        replayed=sum(1 for r in cases if r.candidate is not None),
        by_effect=tuple((e, effects[e]) for e in Effect),
        tier_changed=sum(1 for r in cases if r.tier_changed),
        more_proofing=sum(1 for r in cases if r.more_proofing),
        less_proofing=sum(1 for r in cases if r.less_proofing),
        more_approvals=sum(1 for r in cases if r.more_approvals),
        fewer_approvals=sum(1 for r in cases if r.fewer_approvals),
        newly_refused=effects[Effect.NEWLY_REFUSED],
        no_longer_refused=effects[Effect.NO_LONGER_REFUSED],
        attributes_drifted=sum(1 for r in cases if r.attributes_drifted),
        transitions=tuple((before, after, n) for (before, after), n in sorted(moves.items())),
        recorded_policies=tuple(sorted({r.policy_hash for r in cases})),
    )


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """A whole simulation: the candidate, the period, each case (oldest first)
    and the totals."""

    candidate_source: str
    candidate_hash: str
    candidate_version: int
    since: datetime
    until: datetime
    cases: tuple[CaseReplay, ...]
    totals: Totals

    @property
    def changed(self) -> tuple[CaseReplay, ...]:
        """The cases the candidate treats differently (or could not replay)."""
        return tuple(c for c in self.cases if c.effect != Effect.UNCHANGED)

    def to_json(self) -> dict[str, object]:
        return {
            "candidate": {
                "source": self.candidate_source,
                "hash": self.candidate_hash,
                "version": self.candidate_version,
            },
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "totals": self.totals.to_json(),
            "cases": [c.to_json() for c in self.cases],
        }


def simulate(
    candidate: LoadedPolicy,
    cases: Iterable[RecordedCase],
    *,
    since: datetime,
    until: datetime,
) -> SimulationReport:
    """Replay ``cases`` (the cases opened from ``since`` to ``until``) under
    ``candidate``; the report lists them oldest first."""
    ordered = sorted(cases, key=lambda c: (c.opened_at, c.case_id))
    replays = tuple(replay(candidate, c) for c in ordered)
    return SimulationReport(
        candidate_source=candidate.source,
        candidate_hash=candidate.hash,
        candidate_version=candidate.version,
        since=since,
        until=until,
        cases=replays,
        totals=totals_of(replays),
    )
