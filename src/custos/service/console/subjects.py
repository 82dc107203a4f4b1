"""The help desk's view of subjects (docs/console.md#help-desk): a search within
the operator's scope and one subject's page.

Scope is absolute here: a subject outside it is absent from every answer (a
search's count included) and its page answers NotFound exactly like a subject
that does not exist. Nothing returned is a secret: authenticators by kind,
label and dates; saved codes as a count; contacts masked (``masking``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from custos.domain.errors import InvalidInput, NotFound, RecoveryBlocked
from custos.domain.identities import REFUSING_ACTIONS
from custos.domain.model import Channel, Operator, Role, Subject, SubjectKind
from custos.domain.states import TERMINAL, CaseState
from custos.policy.engine import select_tier
from custos.policy.schema import Tier
from custos.service.console.hold_views import HoldLine, cannot_set, subject_holds
from custos.service.console.masking import mask_contact
from custos.service.holds.standing import hold_rules
from custos.service.ports import Services
from custos.service.recovery.queries import list_cases
from custos.store.identity_repository import SubjectBrief

#: Hits a search lists; the count goes on past it.
SEARCH_LIMIT = 50
#: Matching subjects a search reads at most (in batches) before it says "at least".
SCAN_CAP = 5000
BATCH = 500
MAX_QUERY = 200
#: Closed cases a subject's page lists.
PAST_CASES = 10


@dataclass(frozen=True, slots=True)
class SubjectSearch:
    query: str
    hits: list[SubjectBrief]
    #: Subjects in scope that match (out-of-scope ones are never counted).
    matches: int
    #: False when the search stopped reading at SCAN_CAP: ``matches`` is a floor.
    complete: bool


def search_subjects(
    svc: Services, operator: Operator, query: str, *, limit: int = SEARCH_LIMIT
) -> SubjectSearch:
    """Subjects in ``operator``'s scope whose id, name, employee id or account id
    contains ``query``, by id. Raises InvalidInput for an overlong query."""
    query = query.strip()
    if len(query) > MAX_QUERY:
        raise InvalidInput(f"a search is at most {MAX_QUERY} characters")
    hits: list[SubjectBrief] = []
    matches, scanned, after, complete = 0, 0, None, False
    with svc.uow(read_only=True) as uow:
        while scanned < SCAN_CAP:
            batch = uow.subjects.search(query, after=after, limit=BATCH)
            scanned += len(batch)
            for brief in batch:
                if operator.covers_groups(brief.groups):
                    matches += 1
                    if len(hits) < limit:
                        hits.append(brief)
            if len(batch) < BATCH:
                complete = True
                break
            after = batch[-1].id
    return SubjectSearch(query=query, hits=hits, matches=matches, complete=complete)


@dataclass(frozen=True, slots=True)
class BoundMethod:
    """An authenticator the subject bound: what and when, never its secret."""

    kind: str
    label: str
    bound_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class ContactLine:
    kind: str
    masked: str
    confirmed: bool
    added_at: datetime


@dataclass(frozen=True, slots=True)
class TierView:
    """The tier a case for the subject would start from (risk may step it up)."""

    name: str
    description: str
    why: list[str]
    blocks: bool
    channels: list[str]
    factors: int
    methods: list[str]
    phishing_resistant: bool
    approvals: int
    approver_groups: list[str]
    action: str
    #: A refuse tier's instructions: whom the caller should contact.
    instructions: str = ""


@dataclass(frozen=True, slots=True)
class SubjectPage:
    id: str
    display_name: str
    kind: str
    employment: str
    privileged: bool
    groups: list[str]
    manager: str | None
    sponsor: str | None
    owner: str | None
    #: A shared account's owners (only they may ask for its recovery); else empty.
    owners: list[str]
    ial: int
    mfa_bound: bool
    bind_due: bool
    #: Linked accounts by system (target): account ids.
    accounts: dict[str, list[str]]
    methods: list[BoundMethod]
    recovery_codes_left: int
    contacts: list[ContactLine]
    #: Holds standing on the subject or its groups, with who may lift them.
    holds: list[HoldLine]
    #: Kinds a hold may have (the set form's choices).
    hold_kinds: list[str]
    #: Why this operator cannot set a hold on the subject (None: they can).
    cannot_set_hold: str | None
    tier: TierView | None
    no_tier: str | None
    open_cases: list[dict[str, Any]]
    past_cases: list[dict[str, Any]]
    #: Channels a help-desk operator may open a case on (the tier's, less self-service).
    channels: list[str]
    #: Why this operator cannot open a case for the subject (None: they can).
    cannot_open: str | None = None


def subject_page(svc: Services, operator: Operator, subject_id: str) -> SubjectPage:
    """Everything the help desk may see of one subject. Raises NotFound for an
    unknown subject and for one outside ``operator``'s scope (same message)."""
    with svc.uow(read_only=True) as uow:
        subject = uow.subjects.get(subject_id)
        if subject is None or not operator.covers(subject):
            raise NotFound(f"no subject '{subject_id}'", subject_id=subject_id)
        methods = [
            BoundMethod(
                kind=str(a.kind), label=a.label, bound_at=a.bound_at, last_used_at=a.last_used_at
            )
            for a in uow.authenticators.active(subject.id)
        ]
        codes_left = uow.enrolments.remaining_recovery_codes(subject.id)
        contacts = [
            ContactLine(
                kind=str(c.kind),
                masked=mask_contact(c.kind, c.address),
                confirmed=c.confirmed,
                added_at=c.added_at,
            )
            for c in uow.contacts.current(subject.id)
        ]
    tier, no_tier = _tier(svc, subject)
    rules = hold_rules(svc)
    cases = list_cases(svc, operator, subject_id=subject.id, limit=100)
    accounts: dict[str, list[str]] = {}
    for account in subject.accounts:
        accounts.setdefault(account.target, []).append(account.account_id)
    return SubjectPage(
        id=subject.id,
        display_name=subject.display_name,
        kind=str(subject.kind),
        employment=str(subject.employment),
        privileged=subject.privileged,
        groups=sorted(subject.groups),
        manager=subject.manager,
        sponsor=subject.sponsor,
        owner=subject.owner,
        owners=list(subject.owners) if subject.kind == SubjectKind.SHARED else [],
        ial=subject.ial,
        mfa_bound=subject.mfa_bound,
        bind_due=subject.phishing_resistant_bind_due,
        accounts=accounts,
        methods=methods,
        recovery_codes_left=codes_left,
        contacts=contacts,
        holds=subject_holds(svc, operator, subject.id),
        hold_kinds=sorted(rules.kinds),
        cannot_set_hold=cannot_set(operator, rules, subject.id),
        tier=tier,
        no_tier=no_tier,
        open_cases=[c for c in cases if CaseState(c["state"]) not in TERMINAL],
        past_cases=[c for c in cases if CaseState(c["state"]) in TERMINAL][:PAST_CASES],
        channels=[]
        if tier is None
        else [c for c in tier.channels if c != str(Channel.SELF_SERVICE)],
        cannot_open=_cannot_open(operator, subject),
    )


def _cannot_open(operator: Operator, subject: Subject) -> str | None:
    if not operator.has_role(Role.REQUESTER):
        return "Opening a case needs the requester role (help desk)."
    if operator.person == subject.id:
        return "This is your own account: another person must open and handle its recovery."
    return None


def _tier(svc: Services, subject: Subject) -> tuple[TierView | None, str | None]:
    try:
        tier = select_tier(svc.policy, subject)
    except RecoveryBlocked as exc:
        return None, f"No tier of the policy describes this subject: {exc.message}."
    proofing = tier.proofing
    return (
        TierView(
            name=tier.name,
            description=tier.description,
            why=why_tier(tier),
            blocks=tier.action in REFUSING_ACTIONS,
            channels=[str(c) for c in tier.channels or ()],
            factors=proofing.factors if proofing else 0,
            methods=list(proofing.methods) if proofing else [],
            phishing_resistant=bool(proofing and proofing.phishing_resistant),
            approvals=tier.approvals.count,
            approver_groups=list(tier.approvals.from_groups),
            action=str(tier.action),
            instructions=tier.instructions or "",
        ),
        None,
    )


def why_tier(tier: Tier) -> list[str]:
    """Why the subject got ``tier``, in words: each condition of its ``match``
    (all of them hold), and that no earlier tier fitted."""
    match = tier.match
    reasons = []
    if match.holds is not None:
        reasons.append("under a hold: " + " or ".join(str(h) for h in match.holds))
    if match.privileged is not None:
        reasons.append("privileged" if match.privileged else "not privileged")
    if match.kind is not None:
        reasons.append("kind is " + " or ".join(str(k) for k in match.kind))
    if match.employment is not None:
        reasons.append("employment is " + " or ".join(str(e) for e in match.employment))
    if match.groups is not None:
        reasons.append("member of " + " or ".join(match.groups))
    reasons.append("the first tier of the policy that fits (tiers are tried top to bottom)")
    return reasons
