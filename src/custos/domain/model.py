"""Subjects, operators and the recovery case: the nouns of the domain.

Everything here is plain data plus the rules that guard it. Nothing imports I/O;
the store layer maps these to tables and the service layer loads and saves them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from custos.domain import recovery_rules, sod
from custos.domain.errors import (
    AlreadyDecided,
    CaseExpired,
    InvalidInput,
    ProofingIncomplete,
    ReproofingFirst,
)
from custos.domain.events import DomainEvent, EventType, Outcome
from custos.domain.identities import (
    Channel as Channel,
)
from custos.domain.identities import (
    Contact as Contact,
)
from custos.domain.identities import (
    ContactKind as ContactKind,
)
from custos.domain.identities import (
    CredentialAction as CredentialAction,
)
from custos.domain.identities import (
    Employment as Employment,
)
from custos.domain.identities import (
    Hold as Hold,
)
from custos.domain.identities import (
    LinkedAccount as LinkedAccount,
)
from custos.domain.identities import (
    Operator as Operator,
)
from custos.domain.identities import (
    Role as Role,
)
from custos.domain.identities import (
    Subject as Subject,
)
from custos.domain.identities import (
    SubjectKind as SubjectKind,
)
from custos.domain.recovery_rules import ProofKind
from custos.domain.states import (
    HOLD_RETURNS,
    OPEN_FOR_DECISION,
    CaseState,
    check_move,
    check_return,
)


@dataclass(frozen=True, slots=True)
class BreakGlass:
    """A break-glass use on a case (docs/exceptions.md): the exception it used,
    who invoked it (the actor, and the person compared for separation of
    duties), when, and the groups one approver of the case must come from."""

    exception: str
    invoked_by: str
    invoker_person: str
    at: datetime
    security_groups: frozenset[str]


@dataclass(frozen=True, slots=True)
class Requirements:
    """What the selected tier demands of one case, frozen when the case opens
    (and raised by a break-glass use, which it then records)."""

    tier: str
    action: CredentialAction
    channels: frozenset[Channel]
    factors: int
    methods: frozenset[str]
    phishing_resistant: bool
    approvals: int
    approver_groups: frozenset[str]
    approval_expiry: timedelta
    token_ttl: timedelta
    post_checks: tuple[str, ...]
    required_targets: tuple[str, ...] | None  # None: every linked account is required
    case_ttl: timedelta
    max_proofing_failures: int
    policy_hash: str
    policy_version: int
    risk_band: str
    refused: bool = False  # the risk band's step-up refuses recovery outright
    refusal_reason: str = ""
    aal: int | None = None  # the AAL the tier recovers at (R-1..R-3); None: not stated
    min_ial: int | None = None  # the lowest IAL a re-proofing result may state
    #: Checks of ``post_checks`` that may end "not applicable" and still pass.
    optional_checks: frozenset[str] = frozenset()
    #: Authenticator kinds the ``mfa_bound`` check accepts (R-6, R-45).
    mfa_authenticators: frozenset[str] = frozenset({"webauthn"})
    #: Methods that must be among the passed ones whatever else passed (e.g. a
    #: contractor's sponsor attestation; ``reproofing`` for a ``reproof`` tier).
    required_methods: frozenset[str] = frozenset()
    #: A ``refuse`` tier's instructions: whom to contact instead.
    instructions: str = ""
    #: The break-glass use that sent this (blocked) case on; None for most cases.
    break_glass: BreakGlass | None = None


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    score: int
    band: str
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Approval:
    operator_id: str
    person: str
    decided_at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class ProofRecord:
    method: str
    passed: bool
    at: datetime
    actor: str
    phishing_resistant: bool = False
    kind: ProofKind | None = None  # None: unknown, counted as assisted by the AAL rules


SYSTEM_ACTOR = "system:custos"
#: The proofing method a ``reproof`` tier demands before any other (R-4).
REPROOFING = "reproofing"

_OUTCOME_OF_STATE = {
    CaseState.DENIED: Outcome.DENIED,
    CaseState.BLOCKED: Outcome.DENIED,
    CaseState.EXPIRED: Outcome.FAILURE,
    CaseState.NEEDS_ATTENTION: Outcome.FAILURE,
}


def subject_actor(subject_id: str) -> str:
    return f"subject:{subject_id}"


@dataclass(slots=True)
class Case:
    """A recovery case. Methods enforce the state machine and separation of duties
    and append a :class:`DomainEvent` for every change to ``pending_events``."""

    id: str
    subject_id: str
    channel: Channel
    reason: str
    state: CaseState
    opened_at: datetime
    updated_at: datetime
    expires_at: datetime
    requirements: Requirements
    risk: RiskAssessment
    requested_by: str
    requester_person: str | None = None
    approvals: list[Approval] = field(default_factory=list)
    proofs: list[ProofRecord] = field(default_factory=list)
    executed_by: str | None = None
    executor_person: str | None = None
    executed_at: datetime | None = None
    validated_by: str | None = None
    validated_at: datetime | None = None
    outcome_reason: str = ""
    #: The state a hold blocked the case in, and when: it goes back there when
    #: the last hold on its subject ends (``hold``, ``release``). None for a case
    #: not blocked by a hold (a fraud flag, a block tier, a refusal at opening).
    held_from: CaseState | None = None
    held_at: datetime | None = None
    #: The owner the help desk asked for, for a shared account (0023): an
    #: owner who asks never approves their own request (R-32).
    on_behalf_of: str | None = None
    version: int = 0
    pending_events: list[DomainEvent] = field(default_factory=list)

    # -- events ---------------------------------------------------------------
    def emit(
        self,
        type_: EventType,
        *,
        at: datetime,
        actor: str,
        outcome: Outcome = Outcome.SUCCESS,
        reason: str = "",
        data: dict[str, object] | None = None,
    ) -> DomainEvent:
        event = DomainEvent(
            type=type_,
            occurred_at=at,
            actor=actor,
            subject_id=self.subject_id,
            case_id=self.id,
            outcome=outcome,
            reason=reason,
            data=data or {},
        )
        self.pending_events.append(event)
        return event

    def move(self, target: CaseState, *, at: datetime, actor: str, reason: str = "") -> None:
        check_move(self.state, target)
        self._enter(target, at=at, actor=actor, reason=reason)

    def _enter(self, target: CaseState, *, at: datetime, actor: str, reason: str) -> None:
        previous = self.state
        self.state = target
        self.updated_at = at
        if target in _OUTCOME_OF_STATE or target == CaseState.CANCELLED:
            self.outcome_reason = reason
        self.emit(
            EventType.CASE_STATE_CHANGED,
            at=at,
            actor=actor,
            outcome=_OUTCOME_OF_STATE.get(target, Outcome.SUCCESS),
            reason=reason,
            data={"from": str(previous), "to": str(target)},
        )

    # -- holds -------------------------------------------------------------------
    def hold(self, *, at: datetime, actor: str, reason: str) -> bool:
        """Block the case because a hold stands on its subject, remembering where
        it stood; False (nothing changes) unless it waits on evidence, a decision
        or the subject (``HOLD_RETURNS``): a case being propagated, already
        blocked or closed is left as it is."""
        if self.state not in HOLD_RETURNS:
            return False
        self.held_from, self.held_at = self.state, at
        self.move(CaseState.BLOCKED, at=at, actor=actor, reason=reason)
        return True

    def release(self, *, at: datetime, actor: str, reason: str) -> bool:
        """The last hold on the subject ended: go back to the state the hold
        blocked the case in. The time spent held does not count against the
        case's lifetime (its expiry moves on by as much); a one-time link sent
        before keeps its own expiry. False for a case no hold blocked."""
        if self.state != CaseState.BLOCKED or self.held_from is None:
            return False
        back = self.held_from
        check_return(self.state, back)
        if self.held_at is not None and at > self.held_at:
            self.expires_at += at - self.held_at
        self.held_from = self.held_at = None
        self.outcome_reason = ""  # the block's reason no longer describes the case
        self._enter(back, at=at, actor=actor, reason=reason)
        return True

    def keep_blocked(self) -> None:
        """The block no longer ends with the holds (a fraud flag on this very
        case): leaving it takes the break-glass path or a cancellation."""
        self.held_from = self.held_at = None

    # -- expiry ----------------------------------------------------------------
    def is_expired(self, now: datetime) -> bool:
        return self.state in OPEN_FOR_DECISION and now >= self.expires_at

    def ensure_live(self, now: datetime) -> None:
        """Raise :class:`CaseExpired` (after moving to ``expired``) if the case ran out."""
        if self.is_expired(now):
            self.move(CaseState.EXPIRED, at=now, actor=SYSTEM_ACTOR, reason="case lifetime ran out")
            raise CaseExpired(f"case {self.id} expired at {self.expires_at.isoformat()}")

    # -- proofing ---------------------------------------------------------------
    def passed_methods(self) -> set[str]:
        return {p.method for p in self.proofs if p.passed}

    def awaits_reproofing(self) -> bool:
        """A ``reproof`` case whose re-proofing has not passed yet: no other proof
        counts before it does."""
        return (
            self.requirements.action == CredentialAction.REPROOF
            and REPROOFING not in self.passed_methods()
        )

    def proofing_failures(self) -> int:
        return sum(1 for p in self.proofs if not p.passed)

    def proofing_satisfied(self) -> bool:
        req = self.requirements
        passed = [p for p in self.proofs if p.passed]
        if len({p.method for p in passed}) < req.factors:
            return False
        if not recovery_rules.recovery_complete(req.aal, [(p.method, p.kind) for p in passed]):
            return False  # e.g. one code alone at AAL2 is a step-up, not a recovery
        if not req.required_methods <= {p.method for p in passed}:
            return False  # e.g. a contractor's sponsor has not attested yet
        return not req.phishing_resistant or any(p.phishing_resistant for p in passed)

    def record_proof(self, proof: ProofRecord) -> None:
        """Add one proofing result. Moves on when the requirement is met, and to
        ``denied`` when failures reach the tier's limit."""
        if self.state != CaseState.PROOFING:
            raise AlreadyDecided(
                f"case {self.id} is not collecting proofing evidence (state '{self.state}')"
            )
        if proof.method not in self.requirements.methods:
            raise InvalidInput(
                f"method '{proof.method}' is not allowed by tier '{self.requirements.tier}'",
                allowed=sorted(self.requirements.methods),
            )
        if self.awaits_reproofing() and proof.method != REPROOFING:
            raise ReproofingFirst(
                f"tier '{self.requirements.tier}' re-proofs the subject's identity through "
                f"the identity verification provider before any other proof",
                method=REPROOFING,
            )
        self.proofs.append(proof)
        self.emit(
            EventType.PROOFING_ATTEMPTED,
            at=proof.at,
            actor=proof.actor,
            outcome=Outcome.SUCCESS if proof.passed else Outcome.FAILURE,
            data={"method": proof.method, "phishing_resistant": proof.phishing_resistant},
        )
        if not proof.passed:
            if self.proofing_failures() >= self.requirements.max_proofing_failures:
                self.move(
                    CaseState.DENIED,
                    at=proof.at,
                    actor=SYSTEM_ACTOR,
                    reason="too many failed proofing attempts",
                )
            return
        if self.proofing_satisfied():
            self.emit(
                EventType.PROOFING_SATISFIED,
                at=proof.at,
                actor=SYSTEM_ACTOR,
                data={"methods": sorted(self.passed_methods())},
            )
            if self.requirements.approvals > 0:
                self.expires_at = min(self.expires_at, proof.at + self.requirements.approval_expiry)
                self.move(CaseState.AWAITING_APPROVAL, at=proof.at, actor=SYSTEM_ACTOR)
            else:
                self.move(
                    CaseState.APPROVED,
                    at=proof.at,
                    actor=SYSTEM_ACTOR,
                    reason="tier requires no approval",
                )

    # -- approvals --------------------------------------------------------------
    def quorum_met(self) -> bool:
        return len({a.person for a in self.approvals}) >= self.requirements.approvals

    def approve(self, approver: Operator, subject: Subject, *, at: datetime, reason: str) -> None:
        """Record one approval; the case is approved when the quorum of distinct
        persons is met (R-32, R-33). Raises SeparationOfDuties, OutOfScope,
        NotAuthorized, AlreadyDecided."""
        if self.state != CaseState.AWAITING_APPROVAL:
            raise AlreadyDecided(f"case {self.id} is not awaiting approval (state '{self.state}')")
        sod.check_approver(self, approver, subject)
        self.approvals.append(
            Approval(operator_id=approver.id, person=approver.person, decided_at=at, reason=reason)
        )
        self.emit(
            EventType.CASE_APPROVED,
            at=at,
            actor=approver.actor,
            reason=reason,
            data={
                "approvals": len({a.person for a in self.approvals}),
                "required": self.requirements.approvals,
            },
        )
        if self.quorum_met():
            self.move(CaseState.APPROVED, at=at, actor=SYSTEM_ACTOR, reason="quorum met")

    def deny(self, approver: Operator, subject: Subject, *, at: datetime, reason: str) -> None:
        if self.state != CaseState.AWAITING_APPROVAL:
            raise AlreadyDecided(f"case {self.id} is not awaiting approval (state '{self.state}')")
        if not reason.strip():
            raise InvalidInput("a denial needs a reason")
        sod.check_approver(self, approver, subject)
        self.move(CaseState.DENIED, at=at, actor=approver.actor, reason=reason)

    # -- execution --------------------------------------------------------------
    def issue_credential(
        self, executor: Operator | None, subject: Subject, *, at: datetime
    ) -> None:
        """Move an approved case to ``credential_issued``. ``executor`` is None when
        Custos executes a self-service case on its own."""
        if self.state != CaseState.APPROVED:
            if self.state in (CaseState.PROOFING, CaseState.AWAITING_APPROVAL):
                raise ProofingIncomplete(
                    f"case {self.id} is not approved yet (state '{self.state}')"
                )
            raise AlreadyDecided(f"case {self.id} cannot be executed (state '{self.state}')")
        if executor is not None:
            sod.check_executor(self, executor, subject)
            self.executed_by = executor.actor
            self.executor_person = executor.person
        else:
            self.executed_by = SYSTEM_ACTOR
        self.executed_at = at
        # From here the case lives as long as the one-time token does.
        self.expires_at = at + self.requirements.token_ttl
        self.move(
            CaseState.CREDENTIAL_ISSUED,
            at=at,
            actor=self.executed_by,
            reason=str(self.requirements.action),
        )

    def cancel(self, actor: str, *, at: datetime, reason: str) -> None:
        if not reason.strip():
            raise InvalidInput("a cancellation needs a reason")
        self.move(CaseState.CANCELLED, at=at, actor=actor, reason=reason)

    def validated(
        self,
        *,
        at: datetime,
        by: str,
        checks: list[str],
        reason: str = "post-recovery checks passed",
    ) -> None:
        self.validated_by = by
        self.validated_at = at
        self.move(CaseState.COMPLETED, at=at, actor=by, reason=reason)
        self.emit(EventType.CASE_VALIDATED, at=at, actor=by, data={"checks": checks})


def expiry_for(opened_at: datetime, requirements: Requirements) -> datetime:
    return opened_at + requirements.case_ttl
