"""The policy file schema: pydantic models, frozen, unknown keys refused.

Document shape (``docs/policy.md`` is the reference)::

    PolicyDocument
    ├── version: int >= 1              the author's revision number
    ├── risk_bands: {name: [lo, hi]}   cover 0..100, no gap, no overlap
    ├── defaults: Defaults             case_ttl, max_proofing_failures, approval_expiry,
    │                                  attestation_requests (caps per subject and attester)
    ├── holds: HoldsSection            extra hold kinds; who sets and who lifts a hold
    └── tiers: [Tier, ...]             first match wins
        ├── name, description, match: Match
        ├── action, instructions (refuse), channels, proofing: Proofing, approvals
        ├── step_up: {band: StepUp}, token_ttl, post_checks, required_targets
        ├── optional_checks, mfa_authenticators   which checks may be "not applicable"
        └── aal, risk_analysis             800-63B-4 recovery rules (policy/recovery.py)

Rules that involve more than one field raise :class:`PolicyRuleError`, whose
violations carry a path relative to the model being validated, so the loader
can point at the offending line rather than at the enclosing tier.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

from custos.domain.exceptions import DEFAULT_MAX_DURATION
from custos.domain.holds import BUILT_IN_KINDS, KIND_PATTERN, HoldRules
from custos.domain.identities import CAMPAIGN_ONLY_ACTIONS, REFUSING_ACTIONS
from custos.domain.model import (
    REPROOFING,
    Channel,
    CredentialAction,
    Employment,
    Role,
    SubjectKind,
)
from custos.domain.recovery_rules import tier_problems
from custos.oversight.anomalies import Thresholds
from custos.policy.durations import format_duration as format_duration
from custos.policy.durations import parse_duration as parse_duration
from custos.policy.rotation import Rotation
from custos.policy.temporary_access_pass import TemporaryAccessPassSetting
from custos.proofing.base import METHODS

#: Proofing methods a policy may name: those registered in ``proofing.base.METHODS``
#: (a new method module adds its entry there, and only there).
KNOWN_METHODS: frozenset[str] = frozenset(METHODS)
#: Methods that count as phishing-resistant (R-45).
PHISHING_RESISTANT_METHODS: frozenset[str] = frozenset(
    name for name, info in METHODS.items() if info.phishing_resistant
)
#: Post-recovery checks the verification step knows how to run.
KNOWN_POST_CHECKS: frozenset[str] = frozenset(
    {"read_back", "sessions_revoked", "mfa_bound", "factors_removed"}
)
#: What a ``reissue`` always checks, whatever the tier lists: every session ended
#: where a target can, and no authenticator left in Custos or on a target.
REISSUE_CHECKS: tuple[str, ...] = ("sessions_revoked", "factors_removed")
#: Authenticator kinds ``mfa_bound`` may accept (``mfa_authenticators``); saved
#: recovery codes are a recovery method, never an everyday second factor.
MFA_AUTHENTICATOR_KINDS: frozenset[str] = frozenset({"webauthn", "totp"})
#: Reset tokens and temporary passwords live at most this long (R-13, R-17).
MAX_TOKEN_TTL = timedelta(hours=24)
#: R-18 allows at most 100 consecutive failures; lower limits are allowed.
MAX_PROOFING_FAILURES = 100
SCORE_MIN, SCORE_MAX = 0, 100

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class RuleViolation:
    """One broken cross-field rule; ``path`` is relative to the validated model."""

    path: Path
    reason: str


class PolicyRuleError(ValueError):
    """Raised by model validators; pydantic keeps it in the error's ``ctx["error"]``."""

    def __init__(self, violations: Iterable[RuleViolation]) -> None:
        self.violations = tuple(violations)
        super().__init__("; ".join(v.reason for v in self.violations))


def recovery_violations(tier: Tier) -> list[RuleViolation]:
    """The 800-63B-4 recovery-rule violations of ``tier`` (R-1, R-2, R-3): the
    rules live in :mod:`custos.domain.recovery_rules`; this hands them the tier's
    keys. None for a block tier or one whose proofing is missing (other rules
    report that)."""
    if tier.action in REFUSING_ACTIONS or tier.proofing is None:
        return []
    problems = tier_problems(
        aal=tier.aal,
        methods={m: METHODS[m].kind for m in tier.proofing.methods},
        factors=tier.proofing.factors,
        channels=[str(c) for c in tier.channels or ()],
        min_ial=tier.proofing.min_ial,
        risk_analysis=tier.risk_analysis,
    )
    return [RuleViolation((key,), reason) for key, reason in problems]


def _raise_if_any(violations: list[RuleViolation]) -> None:
    if violations:
        raise PolicyRuleError(violations)


# -- field types -----------------------------------------------------------------
def _one_or_many(value: object) -> object:
    # ``kind: human`` reads better than ``kind: [human]``; both mean the same.
    return [value] if isinstance(value, str) else value


def _unique(values: tuple[object, ...]) -> tuple[object, ...]:
    seen: set[object] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"'{v}' is listed twice")
        seen.add(v)
    return values


def _non_empty(values: tuple[object, ...]) -> tuple[object, ...]:
    # An after-validator, not Field(min_length=1): pydantic would also report an
    # empty tuple when items merely failed, which misleads.
    if not values:
        raise ValueError("must list at least one value")
    return values


def _required_targets(value: object) -> object:
    if value == "all":
        return value
    if (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(v, str) and v for v in value)
        and len(set(value)) == len(value)
    ):
        return tuple(value)
    raise ValueError("required_targets is 'all' or a list of distinct target names")


def _known_method(value: str) -> str:
    if value not in KNOWN_METHODS:
        raise ValueError(
            f"unknown proofing method '{value}'; known: {', '.join(sorted(KNOWN_METHODS))}"
        )
    return value


def _known_authenticator(value: str) -> str:
    if value not in MFA_AUTHENTICATOR_KINDS:
        raise ValueError(
            f"unknown authenticator kind '{value}'; known: "
            f"{', '.join(sorted(MFA_AUTHENTICATOR_KINDS))}"
        )
    return value


def _known_check(value: str) -> str:
    if value not in KNOWN_POST_CHECKS:
        raise ValueError(
            f"unknown post check '{value}'; known: {', '.join(sorted(KNOWN_POST_CHECKS))}"
        )
    return value


Duration = Annotated[timedelta, PlainValidator(parse_duration)]
Name = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")]
Method = Annotated[StrictStr, AfterValidator(_known_method)]
PostCheck = Annotated[StrictStr, AfterValidator(_known_check)]
AuthenticatorKindName = Annotated[StrictStr, AfterValidator(_known_authenticator)]
Count = Annotated[StrictInt, Field(ge=0)]
# Match lists: a bare value is a one-item list; an empty list would match nothing.
Kinds = Annotated[
    tuple[SubjectKind, ...], BeforeValidator(_one_or_many), AfterValidator(_non_empty)
]
Employments = Annotated[
    tuple[Employment, ...], BeforeValidator(_one_or_many), AfterValidator(_non_empty)
]
#: A hold kind: a built-in one or one the policy's ``holds.kinds`` adds (checked
#: by the document, which knows both).
HoldKind = Annotated[StrictStr, Field(pattern=KIND_PATTERN.pattern)]
Holds = Annotated[tuple[HoldKind, ...], BeforeValidator(_one_or_many), AfterValidator(_non_empty)]
Groups = Annotated[tuple[StrictStr, ...], BeforeValidator(_one_or_many), AfterValidator(_non_empty)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- sections ---------------------------------------------------------------------
class Match(_Model):
    """Which subjects a tier applies to. Every stated key must hold; an empty
    match applies to every subject. List keys match if any listed value does."""

    kind: Kinds | None = None
    employment: Employments | None = None
    privileged: StrictBool | None = None
    holds: Holds | None = None
    groups: Groups | None = None


class Proofing(_Model):
    """How the subject proves who they are: ``factors`` distinct methods out of
    ``methods``; with ``phishing_resistant`` one of them must be."""

    factors: Annotated[StrictInt, Field(ge=1)]
    methods: Annotated[tuple[Method, ...], AfterValidator(_non_empty), AfterValidator(_unique)]
    phishing_resistant: StrictBool = False
    #: The lowest IAL a re-proofing result may state (R-4); None: the account's own.
    min_ial: Literal[1, 2, 3] | None = None
    #: Methods of ``methods`` that must pass whatever else does (they count
    #: towards ``factors``), e.g. a contractor's sponsor attestation.
    required: Annotated[tuple[Method, ...], AfterValidator(_unique)] = ()

    @model_validator(mode="after")
    def _satisfiable(self) -> Proofing:
        # The rule lives undecorated: mutmut mutates no decorated function.
        return self._check_satisfiable()

    def _check_satisfiable(self) -> Proofing:
        problems: list[RuleViolation] = []
        if self.factors > len(self.methods):
            problems.append(
                RuleViolation(
                    ("factors",),
                    f"{self.factors} factors cannot be met with {len(self.methods)} method(s)",
                )
            )
        for index, name in enumerate(self.required):
            if name not in self.methods:
                problems.append(
                    RuleViolation(
                        ("required", index), f"required method '{name}' is not listed in methods"
                    )
                )
        if len(self.required) > self.factors:
            problems.append(
                RuleViolation(
                    ("required",),
                    f"{len(self.required)} required methods exceed factors ({self.factors})",
                )
            )
        if self.phishing_resistant and not PHISHING_RESISTANT_METHODS & set(self.methods):
            problems.append(
                RuleViolation(
                    ("phishing_resistant",),
                    "phishing_resistant needs a phishing-resistant method among 'methods' "
                    f"(known: {', '.join(sorted(PHISHING_RESISTANT_METHODS)) or 'none yet'})",
                )
            )
        _raise_if_any(problems)
        return self


class Approvals(_Model):
    """How many distinct people must approve, from which groups (any approver
    when empty), and how long an approval stays valid (``defaults`` if unset)."""

    count: Count = 0
    from_groups: Annotated[tuple[StrictStr, ...], AfterValidator(_unique)] = ()
    expire_after: Duration | None = None


class StepUp(_Model):
    """What a risk band adds to a tier: numbers are raised (never lowered), or
    ``refuse`` turns recovery down with ``reason``."""

    factors: Annotated[StrictInt, Field(ge=1)] | None = None
    approvals: Count | None = None
    phishing_resistant: StrictBool | None = None
    refuse: StrictBool = False
    reason: StrictStr | None = None

    @model_validator(mode="after")
    def _refuse_alone(self) -> StepUp:
        # The rule lives undecorated: mutmut mutates no decorated function.
        return self._check_refuse_alone()

    def _check_refuse_alone(self) -> StepUp:
        extra = [k for k in ("factors", "approvals", "phishing_resistant") if getattr(self, k)]
        if self.refuse and extra:
            raise PolicyRuleError(
                [RuleViolation((extra[0],), "a refusing step-up cannot also raise requirements")]
            )
        if self.reason is not None and not self.refuse:
            raise PolicyRuleError([RuleViolation(("reason",), "'reason' only goes with refuse")])
        return self


class AttestationRequests(_Model):
    """How many attestation requests (mails to a manager or sponsor) may go out
    within ``window``: per subject recovered, and per attester asked."""

    per_subject: Annotated[StrictInt, Field(ge=1, le=100)] = 2
    per_attester: Annotated[StrictInt, Field(ge=1, le=1000)] = 5
    window: Duration = timedelta(hours=24)


class Defaults(_Model):
    """Values every tier shares unless it says otherwise."""

    case_ttl: Duration = timedelta(hours=24)
    max_proofing_failures: Annotated[StrictInt, Field(ge=1, le=MAX_PROOFING_FAILURES)] = 5
    approval_expiry: Duration = timedelta(hours=4)
    attestation_requests: AttestationRequests = AttestationRequests()


class HoldAccess(_Model):
    """Who may set, or lift, a hold: an operator with ``role`` (an admin holds
    every role) who, when ``from_groups`` is not empty, belongs to one of them."""

    role: Role = Role.APPROVER
    from_groups: Annotated[tuple[StrictStr, ...], AfterValidator(_unique)] = ()


def _not_built_in(kinds: tuple[str, ...]) -> tuple[str, ...]:
    for kind in kinds:
        if kind in BUILT_IN_KINDS:
            raise ValueError(f"'{kind}' is a built-in hold kind; list only the kinds you add")
    return kinds


class HoldsSection(_Model):
    """Holds (docs/holds.md): the kinds this policy adds to the built-in ones,
    who sets a hold, and who lifts one (always a different person from the one
    who set it). A lift needs a security approver unless the policy says
    otherwise."""

    kinds: Annotated[
        tuple[HoldKind, ...], AfterValidator(_unique), AfterValidator(_not_built_in)
    ] = ()
    set_by: HoldAccess = HoldAccess()
    lifted_by: HoldAccess = HoldAccess(from_groups=("security-approvers",))

    def rules(self) -> HoldRules:
        return HoldRules(
            kinds=BUILT_IN_KINDS | frozenset(self.kinds),
            set_role=self.set_by.role,
            set_groups=frozenset(self.set_by.from_groups),
            lift_role=self.lifted_by.role,
            lift_groups=frozenset(self.lifted_by.from_groups),
        )


class ExceptionsSection(_Model):
    """Exceptions and break-glass (docs/exceptions.md): the longest an
    exception may last, and the groups a break-glass security approver comes
    from."""

    max_duration: Duration = DEFAULT_MAX_DURATION
    security_groups: Annotated[tuple[Name, ...], AfterValidator(_unique)] = ("security-approvers",)


class CampaignsSection(_Model):
    """Incident campaigns (docs/campaigns.md): the tier name their cases record,
    who approves a campaign (once, for every subject; at least two distinct
    people, neither of them the starter) and how many subjects the worker opens
    per batch."""

    tier: Name = "campaign"
    approvals: Approvals = Approvals(count=2, from_groups=("security-approvers",))
    batch: Annotated[StrictInt, Field(ge=1, le=1000)] = 100

    @model_validator(mode="after")
    def _two_approvers(self) -> CampaignsSection:
        # The rule lives undecorated: mutmut mutates no decorated function.
        return self._check_two_approvers()

    def _check_two_approvers(self) -> CampaignsSection:
        if self.approvals.count < 2:
            raise ValueError("a campaign needs approvals.count >= 2 (R-32)")
        return self


def _short_lived(value: timedelta | None) -> timedelta | None:
    if value is not None and value > MAX_TOKEN_TTL:
        raise ValueError(f"token_ttl may be at most {format_duration(MAX_TOKEN_TTL)}")
    return value


class Tier(_Model):
    """One rule of the policy. A ``block`` tier needs only ``name``, ``match``
    and ``action``; a ``refuse`` tier also ``instructions``; every other tier
    needs channels, proofing and token_ttl."""

    name: Name
    description: StrictStr = ""
    match: Match = Match()
    action: CredentialAction
    #: A ``refuse`` tier's instructions to the caller: whom to contact instead.
    instructions: Annotated[StrictStr, Field(min_length=1, max_length=500)] | None = None
    channels: Annotated[tuple[Channel, ...], AfterValidator(_unique)] | None = None
    proofing: Proofing | None = None
    approvals: Approvals = Approvals()
    step_up: dict[Name, StepUp] = Field(default_factory=dict)
    token_ttl: Duration | None = None
    post_checks: Annotated[tuple[PostCheck, ...], AfterValidator(_unique)] = ()
    #: Checks of ``post_checks`` that may end "not applicable" (a target that
    #: cannot run them) and still let the case complete; every other check must
    #: run and pass, or the case goes to needs_attention.
    optional_checks: Annotated[tuple[PostCheck, ...], AfterValidator(_unique)] = ()
    #: The authenticator kinds ``mfa_bound`` accepts: phishing-resistant only
    #: unless the tier names others (R-6, R-45).
    mfa_authenticators: Annotated[
        tuple[AuthenticatorKindName, ...], AfterValidator(_non_empty), AfterValidator(_unique)
    ] = ("webauthn",)
    required_targets: Annotated[
        Literal["all"] | tuple[str, ...], PlainValidator(_required_targets)
    ] = "all"
    #: The AAL of the accounts this tier recovers (800-63B-4 §4.2; R-1..R-3).
    aal: Literal[1, 2, 3] | None = None
    #: Reference to the documented risk analysis behind help-desk recovery (R-1).
    risk_analysis: Annotated[StrictStr, Field(min_length=1, max_length=500)] | None = None
    #: A ``rotate`` tier's secret shape, grace period and maximum age (R-40).
    rotation: Rotation | None = None
    #: A ``reissue`` tier's Temporary Access Pass on the targets that issue one
    #: (Entra ID; docs/policy.md#temporary_access_pass).
    temporary_access_pass: TemporaryAccessPassSetting | None = None

    @field_validator("token_ttl")
    @classmethod
    def _short_lived(cls, value: timedelta | None) -> timedelta | None:
        # The rule lives undecorated: mutmut mutates no decorated function.
        return _short_lived(value)

    def _action_rules(self) -> list[RuleViolation]:
        """What each action demands of the other keys (docs/policy.md#actions)."""
        problems: list[RuleViolation] = []
        if self.action == CredentialAction.REFUSE and self.instructions is None:
            problems.append(
                RuleViolation(
                    (),
                    f"tier '{self.name}' (refuse) needs 'instructions': whom the caller "
                    "should contact instead",
                )
            )
        if self.action != CredentialAction.REFUSE and self.instructions is not None:
            problems.append(
                RuleViolation(("instructions",), "'instructions' only goes with action refuse")
            )
        if self.action == CredentialAction.REISSUE and "mfa_bound" in self.post_checks:
            problems.append(
                RuleViolation(
                    ("post_checks",),
                    "a reissue removes every authenticator, so mfa_bound could never pass; "
                    "the subject enrols again at the next sign-in",
                )
            )
        if self.action in CAMPAIGN_ONLY_ACTIONS:
            problems.append(
                RuleViolation(
                    ("action",),
                    f"'{self.action}' is an incident campaign's action, never a tier's "
                    "(docs/campaigns.md)",
                )
            )
        if self.action != CredentialAction.REISSUE and "factors_removed" in self.post_checks:
            problems.append(
                RuleViolation(("post_checks",), "factors_removed only goes with action reissue")
            )
        if self.action != CredentialAction.REISSUE and self.temporary_access_pass is not None:
            problems.append(
                RuleViolation(
                    ("temporary_access_pass",),
                    "temporary_access_pass only goes with action reissue: a Temporary Access "
                    "Pass lets the subject register new factors after a reissue removed them",
                )
            )
        if (
            self.action == CredentialAction.REPROOF
            and self.proofing is not None
            and REPROOFING not in self.proofing.methods
        ):
            problems.append(
                RuleViolation(
                    ("proofing", "methods"),
                    f"a reproof tier re-proofs first: list '{REPROOFING}' among the methods",
                )
            )
        problems.extend(self._rotation_rules())
        return problems

    def _rotation_rules(self) -> list[RuleViolation]:
        """A rotate tier states its rotation and recovers service accounts only."""
        rotate = self.action == CredentialAction.ROTATE
        if rotate and self.rotation is None:
            return [
                RuleViolation(
                    (),
                    f"tier '{self.name}' (rotate) needs 'rotation': length, alphabet, "
                    "grace_period and max_age (R-40)",
                )
            ]
        if not rotate and self.rotation is not None:
            return [RuleViolation(("rotation",), "'rotation' only goes with action rotate")]
        if rotate and self.match.kind != (SubjectKind.SERVICE,):
            return [
                RuleViolation(
                    ("match", "kind"), "a rotate tier matches service accounts only: kind: service"
                )
            ]
        return []

    @model_validator(mode="after")
    def _complete(self) -> Tier:
        # The rule lives undecorated: mutmut mutates no decorated function.
        return self._check_complete()

    def _check_complete(self) -> Tier:
        problems: list[RuleViolation] = []
        problems.extend(self._action_rules())
        if self.action in REFUSING_ACTIONS:
            for key in ("channels", "proofing", "token_ttl", "step_up"):
                if getattr(self, key):
                    problems.append(
                        RuleViolation(
                            (key,), f"a {self.action} tier refuses recovery; remove '{key}'"
                        )
                    )
        else:
            for key in ("channels", "proofing", "token_ttl"):
                if not getattr(self, key):
                    problems.append(
                        RuleViolation((), f"tier '{self.name}' ({self.action}) needs '{key}'")
                    )
        if self.proofing is not None:
            for band, step in self.step_up.items():
                if step.phishing_resistant and not PHISHING_RESISTANT_METHODS & set(
                    self.proofing.methods
                ):
                    problems.append(
                        RuleViolation(
                            ("step_up", band, "phishing_resistant"),
                            "a phishing-resistant step-up needs a phishing-resistant method "
                            "among the tier's methods",
                        )
                    )
                if step.factors is not None and step.factors > len(self.proofing.methods):
                    problems.append(
                        RuleViolation(
                            ("step_up", band, "factors"),
                            f"{step.factors} factors cannot be met with "
                            f"{len(self.proofing.methods)} method(s)",
                        )
                    )
        problems.extend(recovery_violations(self))
        for index, name in enumerate(self.optional_checks):
            if name not in self.post_checks:
                problems.append(
                    RuleViolation(
                        ("optional_checks", index),
                        f"optional check '{name}' is not listed in post_checks",
                    )
                )
        if self.match.privileged and self.action not in REFUSING_ACTIONS:
            # privileged recoveries need two distinct approvers; R-24: and
            # always end every other session.
            if self.approvals.count < 2:
                problems.append(
                    RuleViolation(
                        ("approvals",), "a tier for privileged subjects needs count >= 2 (R-32)"
                    )
                )
            if "sessions_revoked" not in self.post_checks:
                problems.append(
                    RuleViolation(
                        ("post_checks",),
                        "a tier for privileged subjects must list sessions_revoked (R-24)",
                    )
                )
            if "sessions_revoked" in self.optional_checks:
                problems.append(
                    RuleViolation(
                        ("optional_checks",),
                        "a tier for privileged subjects must end every session: "
                        "sessions_revoked cannot be optional (R-24)",
                    )
                )
        _raise_if_any(problems)
        return self


# -- oversight (docs/oversight.md, docs/policy.md#oversight) ---------------------
Share = Annotated[StrictFloat | StrictInt, Field(ge=0, le=1)]
Positive = Annotated[StrictInt, Field(ge=1, le=100_000)]


class AnomalyThresholds(_Model):
    """When an operator's recent work deviates enough from their baseline."""

    #: History the baseline is computed from, and the recent period judged against it.
    lookback: Duration = timedelta(days=30)
    recent: Duration = timedelta(days=1)
    #: Recoveries handled in the recent period: more than ``volume_factor`` times
    #: the baseline's daily mean, and at least ``volume_min``.
    volume_factor: Annotated[StrictFloat | StrictInt, Field(gt=1, le=1000)] = 3
    volume_min: Positive = 10
    #: Share of privileged subjects: up by at least this much, over at least ``min_cases``.
    privileged_share_increase: Share = 0.3
    min_cases: Positive = 5
    #: Working hours (UTC, ``start`` <= hour < ``end``); work outside them up by this share.
    work_starts: Annotated[StrictInt, Field(ge=0, le=23)] = 7
    work_ends: Annotated[StrictInt, Field(ge=1, le=24)] = 20
    off_hours_share_increase: Share = 0.5
    off_hours_min: Positive = 3
    #: Approvals faster than this after the case opened; alert from ``fast_approvals_min``.
    fast_approval: Duration = timedelta(minutes=2)
    fast_approvals_min: Positive = 3
    #: One requester's share of an approver's approvals, over at least ``pair_min_approvals``.
    pair_share: Share = 0.6
    pair_min_approvals: Positive = 6
    #: Consecutive approvals without a denial.
    approval_streak: Positive = 30
    #: Failed proofs on a case before one passed.
    failures_before_success: Positive = 3
    #: Subjects outside the groups of the baseline, once it holds ``groups_min_history`` subjects.
    groups_min_history: Positive = 10
    unusual_subjects_min: Positive = 2

    @model_validator(mode="after")
    def _hours_in_order(self) -> AnomalyThresholds:
        # The rule lives undecorated: mutmut mutates no decorated function.
        return self._check_hours_in_order()

    def _check_hours_in_order(self) -> AnomalyThresholds:
        if self.work_starts >= self.work_ends:
            raise ValueError("work_starts must be before work_ends")
        if self.recent >= self.lookback:
            raise ValueError("recent must be shorter than lookback")
        return self

    def thresholds(self) -> Thresholds:
        return Thresholds(
            lookback=self.lookback,
            recent=self.recent,
            volume_factor=float(self.volume_factor),
            volume_min=self.volume_min,
            privileged_share_increase=float(self.privileged_share_increase),
            min_cases=self.min_cases,
            work_starts=self.work_starts,
            work_ends=self.work_ends,
            off_hours_share_increase=float(self.off_hours_share_increase),
            off_hours_min=self.off_hours_min,
            fast_approval=self.fast_approval,
            fast_approvals_min=self.fast_approvals_min,
            pair_share=float(self.pair_share),
            pair_min_approvals=self.pair_min_approvals,
            approval_streak=self.approval_streak,
            failures_before_success=self.failures_before_success,
            groups_min_history=self.groups_min_history,
            unusual_subjects_min=self.unusual_subjects_min,
        )


class OversightSection(_Model):
    #: Refusals of one actor and kind are counted per window of this length;
    #: the ledger gets the first in full and, once the window closes, its count.
    refusal_window: Duration = timedelta(minutes=5)
    anomalies: AnomalyThresholds = AnomalyThresholds()


def _bands_cover_scores(bands: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    problems = [
        RuleViolation(
            (name,),
            f"band '{name}' must satisfy {SCORE_MIN} <= low <= high <= "
            f"{SCORE_MAX}, got [{lo}, {hi}]",
        )
        for name, (lo, hi) in bands.items()
        if not SCORE_MIN <= lo <= hi <= SCORE_MAX
    ]
    _raise_if_any(problems)
    expected = SCORE_MIN
    for name, (lo, hi) in sorted(bands.items(), key=lambda item: item[1]):
        if lo != expected:
            gap_or_overlap = "overlaps the previous band" if lo < expected else "leaves a gap"
            problems.append(
                RuleViolation(
                    (name,),
                    f"band '{name}' starts at {lo}: {gap_or_overlap} (expected {expected})",
                )
            )
        expected = max(expected, hi + 1)
    if expected != SCORE_MAX + 1:
        problems.append(RuleViolation((), f"risk bands must reach {SCORE_MAX}"))
    _raise_if_any(problems)
    return bands


class PolicyDocument(_Model):
    """A whole policy file. Tiers are tried in order; the first match wins."""

    version: Annotated[StrictInt, Field(ge=1)]
    risk_bands: dict[Name, tuple[StrictInt, StrictInt]]
    defaults: Defaults = Defaults()
    holds: HoldsSection = HoldsSection()
    campaigns: CampaignsSection = CampaignsSection()
    tiers: Annotated[tuple[Tier, ...], AfterValidator(_non_empty)]
    exceptions: ExceptionsSection = ExceptionsSection()
    oversight: OversightSection = OversightSection()

    @field_validator("risk_bands")
    @classmethod
    def _bands_cover_scores(cls, bands: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        # The rule lives undecorated: mutmut mutates no decorated function.
        return _bands_cover_scores(bands)

    @model_validator(mode="after")
    def _consistent(self) -> PolicyDocument:
        # The rule lives undecorated: mutmut mutates no decorated function.
        return self._check_consistent()

    def _check_consistent(self) -> PolicyDocument:
        problems: list[RuleViolation] = []
        seen: set[str] = set()
        kinds = BUILT_IN_KINDS | frozenset(self.holds.kinds)
        for index, tier in enumerate(self.tiers):
            for position, kind in enumerate(tier.match.holds or ()):
                if kind not in kinds:
                    problems.append(
                        RuleViolation(
                            ("tiers", index, "match", "holds", position),
                            f"unknown hold kind '{kind}'; known: {', '.join(sorted(kinds))} "
                            "(a policy adds kinds under holds.kinds)",
                        )
                    )
            if tier.name in seen:
                problems.append(
                    RuleViolation(
                        ("tiers", index, "name"), f"tier name '{tier.name}' is used twice"
                    )
                )
            seen.add(tier.name)
            for band in tier.step_up:
                if band not in self.risk_bands:
                    problems.append(
                        RuleViolation(
                            ("tiers", index, "step_up", band),
                            f"step_up names band '{band}', which risk_bands does not declare",
                        )
                    )
        _raise_if_any(problems)
        return self

    def tier(self, name: str) -> Tier:
        """The tier called ``name``; raises :class:`KeyError` if there is none."""
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(name)
