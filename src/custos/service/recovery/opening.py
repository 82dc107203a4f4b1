"""Opening a case: score the risk, pick the tier, freeze the requirements."""

from __future__ import annotations

import secrets
from datetime import datetime

from custos.domain.eligibility import contract_refusal
from custos.domain.events import EventType
from custos.domain.model import (
    SYSTEM_ACTOR,
    Case,
    Channel,
    CredentialAction,
    Requirements,
    Subject,
    expiry_for,
)
from custos.domain.states import CaseState
from custos.ledger.policies import remember_policy
from custos.policy.engine import (
    Opening,
    band_for,
    opening_of,
    refusal_reason,
    select_requirements,
    tier_refusal,
)
from custos.risk.engine import collect, score
from custos.service.exceptions.usage import apply_exceptions
from custos.service.holds.case_effects import block_reason
from custos.service.holds.standing import active_holds
from custos.service.ports import Services
from custos.service.recovery import shared_accounts
from custos.service.signals import risk_context
from custos.store.unit_of_work import UnitOfWork


def new_case_id(now: datetime) -> str:
    return f"case-{now.strftime('%Y%m%d')}-{secrets.token_hex(5)}"


def open_case(
    svc: Services,
    uow: UnitOfWork,
    *,
    subject: Subject,
    channel: Channel,
    reason: str,
    requested_by: str,
    requester_person: str | None,
    source_address: str | None,
    now: datetime,
    device_digest: str | None = None,
    flow_digest: str | None = None,
    ticket: str | None = None,
    on_behalf_of: str | None = None,
) -> Case:
    """Open a case in ``uow`` (not committed). The case ends up in ``proofing``, or
    already ``blocked`` (a hold stands on the subject or one of its groups, a
    block tier; such a case stays blocked when the hold ends: it was refused)
    or ``denied`` (a refuse tier, an ended contract, channel not allowed, risk
    refused): the caller decides how to answer those (:func:`refusal_of` tells
    a policy refusal from the others). ``device_digest`` and
    ``flow_digest`` come from a self-service flow (device novelty, velocity);
    ``ticket`` is the help-desk ticket reference, kept in the opening event;
    ``on_behalf_of`` the owner the help desk asks for (a shared account: only
    an owner may ask, ``service/recovery/shared_accounts.py``)."""
    # A hold being set meanwhile is either seen below or blocks this case
    # once it commits; the subject's holds were read before this, so again.
    fresh = uow.holds.guard_standing(placing=False)
    ctx = risk_context.gather(
        svc,
        uow,
        subject=subject,
        channel=channel,
        source_address=source_address,
        device_digest=device_digest,
        flow_digest=flow_digest,
        now=now,
    )
    fired = collect(ctx)
    risk = score(fired, lambda total: band_for(svc.policy, total))
    req = select_requirements(svc.policy, subject, channel, risk)
    case = Case(
        id=new_case_id(now),
        subject_id=subject.id,
        channel=channel,
        reason=reason,
        state=CaseState.OPENED,
        opened_at=now,
        updated_at=now,
        expires_at=expiry_for(now, req),
        requirements=req,
        risk=risk,
        requested_by=requested_by,
        requester_person=requester_person,
        on_behalf_of=on_behalf_of,
    )
    opened: dict[str, object] = {"channel": str(channel)}
    if ticket:
        opened["ticket"] = ticket
    if on_behalf_of:
        opened["on_behalf_of"] = on_behalf_of
    case.emit(EventType.CASE_OPENED, at=now, actor=requested_by, reason=reason, data=opened)
    case.emit(
        EventType.RISK_ASSESSED,
        at=now,
        actor=SYSTEM_ACTOR,
        data={
            "score": risk.score,
            "band": risk.band,
            "reasons": list(risk.reasons),
            "signals": [{"name": s.name, "points": s.points} for s in fired],
        },
    )
    case.emit(
        EventType.TIER_SELECTED,
        at=now,
        actor=SYSTEM_ACTOR,
        data={
            "tier": req.tier,
            "policy_hash": req.policy_hash,
            "policy_version": req.policy_version,
            "action": str(req.action),
            "factors": req.factors,
            "methods": sorted(req.methods),
            "approvals": req.approvals,
            "phishing_resistant": req.phishing_resistant,
            "refused": req.refused,
        },
    )
    holds = active_holds(uow, subject, now) if subject.holds or fresh else []
    opening = opening_of(req, channel)
    reason = refusal_reason(req, channel, opening)
    if holds:
        # Whatever the tiers say: a policy without a block tier still stops here.
        case.move(CaseState.BLOCKED, at=now, actor=SYSTEM_ACTOR, reason=block_reason(holds))
    elif opening == Opening.BLOCKED:
        case.move(CaseState.BLOCKED, at=now, actor=SYSTEM_ACTOR, reason=reason)
    elif (refused := _policy_refusal(subject, req, requester_person, now)) is not None:
        case.move(CaseState.DENIED, at=now, actor=SYSTEM_ACTOR, reason=refused)
    elif opening.refused:
        case.move(CaseState.DENIED, at=now, actor=SYSTEM_ACTOR, reason=reason)
    elif (
        not_owner := shared_accounts.requester_refusal(
            subject, requester_person=requester_person, on_behalf_of=on_behalf_of
        )
    ) is not None:
        shared_accounts.record_refusal(
            case, reason=not_owner, asking=on_behalf_of or requester_person, now=now
        )
    else:
        case.move(CaseState.PROOFING, at=now, actor=SYSTEM_ACTOR)
        apply_exceptions(uow, case, subject, now)
    remember_policy(uow.conn, policy_hash=svc.policy.hash, text=svc.policy.text, now=now)
    uow.cases.add(case, source_address=source_address)
    return case


def _policy_refusal(
    subject: Subject, req: Requirements, requester_person: str | None, now: datetime
) -> str | None:
    if req.action == CredentialAction.REFUSE:
        return tier_refusal(req)
    del requester_person  # shared accounts: refused before (shared_accounts.py)
    return contract_refusal(subject, now)


def refusal_of(case: Case, subject: Subject) -> str | None:
    """Why the policy refused ``case`` as it opened (a refuse tier, an ended
    contract), or None for a
    case that was not refused so (blocked, wrong channel, refused by risk)."""
    if case.state != CaseState.DENIED:
        return None
    return _policy_refusal(subject, case.requirements, case.requester_person, case.opened_at)
