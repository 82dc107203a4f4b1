"""What the console's case page shows (docs/console.md#help-desk): the case's
story from ``queries.case_detail`` plus what the page needs to guide the
operator: progress against the tier's requirements, each proofing method the
tier allows with whether the subject can answer it, the systems execution will
touch, and which actions this operator may take now (with why not, in words).

Like ``case_detail`` it answers NotFound for a case outside the operator's
scope. Nothing here is a secret: no code, link, token or password is read, and
contacts are counted, never shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from custos.domain.attestation import attester_of
from custos.domain.events import EventType
from custos.domain.model import (
    SYSTEM_ACTOR,
    Case,
    ContactKind,
    CredentialAction,
    Operator,
    Role,
    Subject,
)
from custos.domain.states import TERMINAL, CaseState, can_move
from custos.proofing.base import METHODS
from custos.service.console.refusals import OWN_ACCOUNT, sod_refusal
from custos.service.exceptions.break_glass import may_invoke
from custos.service.exceptions.break_glass_rules import security_groups
from custos.service.ports import Services
from custos.service.recovery.queries import case_detail
from custos.store.unit_of_work import UnitOfWork

#: States whose page polls its live part (receipts, checks), and how often in
#: seconds: from the link's issue until the systems are updated and checked.
#: Each state ends on its own (the link expires, the worker finishes), so a
#: forgotten tab does not poll for ever.
POLL_SECONDS: Final[dict[CaseState, int]] = {
    CaseState.CREDENTIAL_ISSUED: 2,
    CaseState.EXECUTING: 2,
    CaseState.VERIFYING: 2,
}


@dataclass(frozen=True, slots=True)
class MethodWords:
    label: str
    how: str
    #: Which form the page offers: typed (the caller reads it, the agent types
    #: it), send (send a code, then type what the caller reads), link, attestation,
    #: challenge, reproofing.
    form: str


METHOD_WORDS: Final[dict[str, MethodWords]] = {
    "totp": MethodWords(
        "Authenticator app code",
        "The caller reads the current code of the app they enrolled; type it here.",
        "typed",
    ),
    "recovery_code": MethodWords(
        "Saved recovery code",
        "The caller reads one of their saved recovery codes; type it here. It is spent once used.",
        "typed",
    ),
    "email_code": MethodWords(
        "Code by email",
        "Send a code to the subject's confirmed email addresses; the caller reads it to you "
        "and you type it here. You never see the code yourself.",
        "send",
    ),
    "sms_code": MethodWords(
        "Code by text message",
        "Text a code to the subject's confirmed phone numbers; the caller reads it to you and "
        "you type it here. Refused after a recent SIM swap.",
        "send",
    ),
    "webauthn": MethodWords(
        "Security key",
        "Send a one-time link; the subject opens it on their own device and confirms with "
        "their security key. You see only the result.",
        "link",
    ),
    "manager_attestation": MethodWords(
        "Manager or sponsor attestation",
        "A one-time link goes to the subject's manager (a contractor's sponsor), who attests "
        "or refuses the request. You see only the decision.",
        "attestation",
    ),
    "agent_challenge": MethodWords(
        "Challenge on the subject's device",
        "The subject receives a link and answers on their own device (their authenticator "
        "app, or a code sent with the link). You see only pending, passed, failed or expired.",
        "challenge",
    ),
    "reproofing": MethodWords(
        "Identity re-verification",
        "Paste the signed result the identity-verification provider issued for this subject.",
        "reproofing",
    ),
}


@dataclass(frozen=True, slots=True)
class MethodPanel:
    method: str
    label: str
    how: str
    form: str
    phishing_resistant: bool
    passed: bool
    failures: int
    #: Why the subject cannot answer this method now (None: they can).
    not_ready: str | None
    #: The last request sent for it, in words (a code, a link, an attestation).
    last_request: str | None
    #: The state of the last attestation or challenge, when there is one.
    request_state: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    factors: int
    passed_methods: list[str]
    phishing_resistant: bool
    phishing_resistant_done: bool
    aal: int | None
    failures: int
    max_failures: int
    approvals_needed: int
    approver_groups: list[str]
    approvals: list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class Actions:
    """What this operator may do now; a ``*_why_not`` says why not in words when
    the state is right but the operator is not the one to do it."""

    proof: bool = False
    proof_why_not: str | None = None
    execute: bool = False
    execute_why_not: str | None = None
    retry_targets: list[str] = field(default_factory=list)
    cancel: bool = False
    flag: bool = False
    #: A blocked case this operator may send on under a break-glass exception.
    break_glass: bool = False


@dataclass(frozen=True, slots=True)
class SystemLine:
    target: str
    account_id: str
    required: bool


@dataclass(frozen=True, slots=True)
class CasePage:
    detail: dict[str, Any]
    state: str
    final: bool
    poll_seconds: int | None
    progress: Progress
    methods: list[MethodPanel]
    actions: Actions
    systems: list[SystemLine]
    #: How the one-time link reaches the subject, and what they get (never shown here).
    delivery: str
    timeline: list[dict[str, Any]]


def case_page(svc: Services, operator: Operator, case_id: str) -> CasePage:
    """The case page for ``operator``. Raises NotFound (also out of scope)."""
    detail = case_detail(svc, operator, case_id)
    with svc.uow(read_only=True) as uow:
        case = uow.cases.get(case_id)
        subject = uow.subjects.get(case.subject_id)
        assert subject is not None  # cases reference subjects by foreign key
        methods = _methods(uow, case, subject, detail)
    state = CaseState(detail["state"])
    return CasePage(
        detail=detail,
        state=str(state),
        final=state in TERMINAL,
        poll_seconds=POLL_SECONDS.get(state),
        progress=_progress(case, detail),
        methods=methods,
        actions=_actions(case, subject, operator, detail, glass_groups=security_groups(svc)),
        systems=_systems(case, subject),
        delivery=_delivery(case, subject),
        timeline=_timeline(detail),
    )


def live_poll_seconds(state: str) -> int | None:
    return POLL_SECONDS.get(CaseState(state))


def _progress(case: Case, detail: dict[str, Any]) -> Progress:
    req = case.requirements
    names = detail["actors"]
    return Progress(
        factors=req.factors,
        passed_methods=sorted(case.passed_methods()),
        phishing_resistant=req.phishing_resistant,
        phishing_resistant_done=any(p.passed and p.phishing_resistant for p in case.proofs),
        aal=req.aal,
        failures=case.proofing_failures(),
        max_failures=req.max_proofing_failures,
        approvals_needed=req.approvals,
        approver_groups=sorted(req.approver_groups),
        approvals=[
            {
                "by": names.get(f"operator:{a.operator_id}", a.operator_id),
                "at": a.decided_at.isoformat(),
                "reason": a.reason,
            }
            for a in case.approvals
        ],
    )


def _methods(
    uow: UnitOfWork, case: Case, subject: Subject, detail: dict[str, Any]
) -> list[MethodPanel]:
    emails = len(subject.confirmed_contacts(ContactKind.EMAIL))
    phones = len(subject.confirmed_contacts(ContactKind.SMS))
    has_totp = uow.enrolments.totp(subject.id) is not None
    not_ready = {
        "totp": None if has_totp else "The subject has no authenticator app enrolled.",
        "recovery_code": None
        if uow.enrolments.remaining_recovery_codes(subject.id)
        else "The subject has no unused saved recovery code.",
        "email_code": None if emails else "The subject has no confirmed email address.",
        "sms_code": None if phones else "The subject has no confirmed phone number.",
        "webauthn": None
        if uow.authenticators.credentials(subject.id) and subject.confirmed_contacts()
        else "The subject has no security key bound, or no confirmed contact for the link.",
        "manager_attestation": None
        if attester_of(subject)
        else "No manager or sponsor is on record for the subject.",
        "agent_challenge": None
        if emails
        else "The subject has no confirmed email address to receive the challenge.",
        "reproofing": None,
    }
    requests = _requests(detail)
    panels = []
    for method in sorted(case.requirements.methods, key=_method_order):
        words = METHOD_WORDS.get(method, MethodWords(method, "", "typed"))
        tried = [p for p in case.proofs if p.method == method]
        panels.append(
            MethodPanel(
                method=method,
                label=words.label,
                how=words.how,
                form=words.form,
                phishing_resistant=METHODS[method].phishing_resistant,
                passed=any(p.passed for p in tried),
                failures=sum(1 for p in tried if not p.passed),
                not_ready=not_ready.get(method),
                last_request=requests.get(method, (None, None))[0],
                request_state=requests.get(method, (None, None))[1],
            )
        )
    return panels


def _method_order(method: str) -> tuple[int, str]:
    order = list(METHOD_WORDS)
    return (order.index(method) if method in order else len(order), method)


def _requests(detail: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """method -> (the last request in words, its state) from the timeline."""
    found: dict[str, tuple[str, str | None]] = {}
    for event in detail["timeline"]:
        kind, data, at = event["type"], event["data"], event["time"]
        if kind == EventType.CHALLENGE_SENT:
            method = str(data.get("method", "email_code"))
            where = "address(es)" if method == "email_code" else "phone number(s)"
            found[method] = (f"code sent at {at} to {data.get('contacts')} {where}", None)
        elif kind == EventType.WEBAUTHN_LINK_SENT:
            found["webauthn"] = (f"link sent at {at} to {data.get('contacts')} contact(s)", None)
        elif kind == EventType.ATTESTATION_REQUESTED:
            found["manager_attestation"] = (
                f"asked the {data.get('relation')} at {at}",
                "waiting",
            )
        elif kind in (EventType.ATTESTATION_ATTESTED, EventType.ATTESTATION_REFUSED):
            asked = found.get("manager_attestation", ("asked", None))[0]
            decision = "attested" if kind == EventType.ATTESTATION_ATTESTED else "refused"
            found["manager_attestation"] = (asked, decision)
    if detail["challenges"]:
        last = detail["challenges"][-1]
        found["agent_challenge"] = (
            f"{last['mode']} challenge sent at {last['issued_at']}",
            str(last["state"]),
        )
    return found


def _actions(
    case: Case,
    subject: Subject,
    operator: Operator,
    detail: dict[str, Any],
    *,
    glass_groups: frozenset[str],
) -> Actions:
    state = case.state
    own = OWN_ACCOUNT if operator.person == subject.id else None
    proof = state == CaseState.PROOFING and operator.has_role(Role.REQUESTER)
    execute = state == CaseState.APPROVED and operator.has_role(Role.EXECUTOR)
    execute_why_not = (
        sod_refusal("execute", case=case, operator=operator, subject=subject) if execute else None
    )
    retry_targets: list[str] = []
    if state == CaseState.NEEDS_ATTENTION and operator.has_role(Role.EXECUTOR) and own is None:
        retry_targets = sorted({r["target"] for r in detail["receipts"] if r["state"] == "failed"})
    return Actions(
        proof=proof and own is None,
        proof_why_not=own if proof else None,
        execute=execute and execute_why_not is None,
        execute_why_not=execute_why_not,
        retry_targets=retry_targets,
        cancel=operator.has_role(Role.REQUESTER)
        and own is None
        and can_move(state, CaseState.CANCELLED),
        flag=(operator.has_role(Role.REQUESTER) or operator.has_role(Role.APPROVER))
        and own is None,
        break_glass=state == CaseState.BLOCKED
        and own is None
        and may_invoke(operator, glass_groups),
    )


def _systems(case: Case, subject: Subject) -> list[SystemLine]:
    required = case.requirements.required_targets
    return [
        SystemLine(a.target, a.account_id, required is None or a.target in required)
        for a in subject.accounts
    ]


def _delivery(case: Case, subject: Subject) -> str:
    emails = len(subject.confirmed_contacts(ContactKind.EMAIL))
    if not emails:
        return (
            "The subject has no confirmed email address to receive the one-time link: "
            "executing is refused until one is confirmed."
        )
    minutes = int(case.requirements.token_ttl.total_seconds() // 60)
    sent = (
        f"Executing sends a one-time link to the subject's {emails} confirmed email "
        f"address(es), valid {minutes} minutes. Nobody at the help desk sees it."
    )
    if case.requirements.action == CredentialAction.TEMP_PASSWORD:
        return (
            sent + " Whoever opens the link is shown a temporary password once, to be "
            "changed at first logon; Custos then sets it on each system below."
        )
    return sent + " The subject chooses a new password there; Custos then sets it on each system."


def _timeline(detail: dict[str, Any]) -> list[dict[str, Any]]:
    names = detail["actors"]
    return [
        {
            "time": e["time"],
            "type": e["type"],
            "actor": _actor(e["actor"], names),
            "outcome": e["outcome"],
            "reason": e["reason"],
        }
        for e in detail["timeline"]
    ]


def _actor(actor: str, names: dict[str, str]) -> str:
    if actor in names:
        return names[actor]
    if actor == SYSTEM_ACTOR:
        return "Custos"
    if actor.startswith("subject:"):
        return "the subject"
    return actor


def refusal_in_words(svc: Services, operator: Operator, case_id: str, action: str) -> str | None:
    """Why separation of duties refused ``operator``'s ``action`` on the case, in
    plain words (``refusals.sod_refusal``); None when the facts do not say."""
    with svc.uow(read_only=True) as uow:
        case = uow.cases.get(case_id)
        subject = uow.subjects.get(case.subject_id)
    if subject is None:
        return None
    return sod_refusal(action, case=case, operator=operator, subject=subject)
