"""The worker's part of incident campaigns: open the next batch of cases of
every running campaign, and finish a campaign once every member has its case
and every case reached a final state.

Exactly once per member: a batch locks its campaign's row, claims pending
members and opens their cases in ONE transaction that also marks the members
opened. A worker killed before the commit opened nothing (the members are
still pending, the next pass takes them); after it, every member of the batch
has its one case, whose receipts the propagation worker carries out with
leases (a write repeated after a lost lease sets the same secret)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from custos.credentials import seal_contexts
from custos.domain.campaigns import Campaign, CampaignState
from custos.domain.events import EventType
from custos.domain.model import (
    SYSTEM_ACTOR,
    Approval,
    Case,
    Channel,
    CredentialAction,
    Requirements,
    RiskAssessment,
    Subject,
)
from custos.domain.states import CaseState
from custos.ledger.policies import remember_policy
from custos.policy.campaign_tier import campaign_requirements, campaign_risk
from custos.service.campaigns.alerts import alert
from custos.service.enrolment import subject_sessions
from custos.service.ports import Services
from custos.service.recovery import reissue
from custos.service.recovery.opening import new_case_id
from custos.service.recovery.redemption import start_propagation
from custos.store.case_repository import ConcurrentUpdate
from custos.store.unit_of_work import UnitOfWork

#: Case states in which a campaign's case is done with, as far as the campaign
#: goes (needs_attention is reported as a failure, and retried by an operator).
SETTLED = frozenset(
    {
        CaseState.COMPLETED,
        CaseState.NEEDS_ATTENTION,
        CaseState.CANCELLED,
        CaseState.DENIED,
        CaseState.EXPIRED,
        CaseState.BLOCKED,
    }
)


def run_campaigns(svc: Services, *, campaign_id: str | None = None) -> int:
    """One pass: a batch of every running campaign (or only ``campaign_id``),
    then the end of those with nothing left. Returns the cases opened plus the
    campaigns finished."""
    with svc.uow(read_only=True) as uow:
        running = uow.campaigns.ids_in_state(CampaignState.RUNNING)
    if campaign_id is not None:
        running = [c for c in running if c == campaign_id]
    done = 0
    for cid in running:
        opened = open_batch(svc, cid)
        done += opened
        if opened == 0:
            done += finish_if_done(svc, cid)
    return done


def open_batch(svc: Services, campaign_id: str) -> int:
    """Open the cases of the next batch of pending members; returns how many."""
    now = svc.clock.now()
    with svc.uow() as uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        if campaign.state != CampaignState.RUNNING:
            return 0
        ids = uow.campaigns.claim_pending(
            campaign_id,
            limit=svc.policy.document.campaigns.batch,
            skip_locked=not uow.sqlite,
        )
        if not ids:
            return 0
        # Its row and linked accounts are all an opening reads of a subject.
        subjects = uow.campaigns.opening_subjects(ids)
        remember_policy(uow.conn, policy_hash=svc.policy.hash, text=svc.policy.text, now=now)
        shared = _Shared.of(svc, campaign)
        issued = [_open_one(svc, uow, shared, subjects[subject_id], now) for subject_id in ids]
        if shared.action == CredentialAction.REISSUE:
            reissue.reissue_in_custos_many(uow, [o.case for o in issued], now=now)
        opened = [
            Opened(
                o.case, o.sealed, start_propagation(o.case, subjects[o.case.subject_id], now=now)
            )
            for o in issued
        ]
        # Live one-time links voided and Custos sessions ended, for the whole batch.
        uow.tokens.void_live_many(ids, now=now, reason=f"campaign {campaign.id}")
        subject_sessions.end_all_many(uow, ids, now=now, reason=f"campaign {campaign.id}")
        # The case rows first (one bulk insert, one ledger append), then what
        # refers to them.
        uow.cases.add_many([o.case for o in opened])
        uow.secrets.put_many({o.case.id: o.sealed for o in opened if o.sealed is not None}, now=now)
        uow.receipts.create_many(
            {o.case.id: o.accounts for o in opened if o.accounts},
            now=now,
            max_attempts=svc.settings.worker.max_attempts,
        )
        marked = uow.campaigns.mark_opened_many(
            campaign_id, {o.case.subject_id: o.case.id for o in opened}, now=now
        )
        if marked not in (-1, len(opened)):  # a claimed row left 'pending' meanwhile
            raise ConcurrentUpdate(f"campaign {campaign_id}: members opened concurrently")
        uow.commit()
    return len(ids)


@dataclass(frozen=True, slots=True)
class Opened:
    """One member's case, built in memory, with what is stored beside it."""

    case: Case
    sealed: bytes | None  # the sealed random password (force-reset, reissue)
    accounts: list[tuple[str, str, bool]]  # the receipts to create (none yet: issued)


@dataclass(frozen=True, slots=True)
class _Shared:
    """What every case of one batch has in common, worked out once per batch:
    the campaign's risk, reasons and approvals, and the requirements (which
    depend on the subject only through its privilege)."""

    campaign: Campaign
    action: CredentialAction
    risk: RiskAssessment
    reason: str  # the case's reason (and its opening's)
    approved: str  # the reason of the move to ``approved``
    approvals: tuple[Approval, ...]
    requirements: dict[bool, Requirements]  # by the subject's privilege

    @classmethod
    def of(cls, svc: Services, campaign: Campaign) -> _Shared:
        return cls(
            campaign=campaign,
            action=campaign.action.credential_action,
            risk=campaign_risk(svc.policy),
            reason=f"campaign {campaign.id}: {campaign.reason}",
            approved=f"campaign {campaign.id} approved by {len(campaign.approvals)} people",
            # The campaign's approvals, given once, stand for every one of its cases.
            approvals=tuple(
                Approval(
                    operator_id=given.operator_id,
                    person=given.person,
                    decided_at=given.at,
                    reason=given.reason,
                )
                for given in campaign.approvals
            ),
            requirements={},
        )

    def requirements_for(self, svc: Services, subject: Subject) -> Requirements:
        found = self.requirements.get(subject.privileged)
        if found is None:
            found = campaign_requirements(svc.policy, self.action, subject)
            self.requirements[subject.privileged] = found
        return found


def _open_one(
    svc: Services, uow: UnitOfWork, shared: _Shared, subject: Subject, now: datetime
) -> Opened:
    """One member's case, from opened to credential issued, built in memory
    (its reissue in Custos, start of propagation, row, secret and receipts are
    the caller's, for the whole batch at once). The one-subject path, from
    which the batch's differs in no fact: this, ``reissue_in_custos`` for a
    reissue, then ``start_propagation``."""
    campaign, action = shared.campaign, shared.action
    req = shared.requirements_for(svc, subject)
    case = Case(
        id=new_case_id(now),
        subject_id=subject.id,
        channel=Channel.CAMPAIGN,
        reason=shared.reason,
        state=CaseState.OPENED,
        opened_at=now,
        updated_at=now,
        expires_at=now + req.case_ttl,
        requirements=req,
        risk=shared.risk,
        requested_by=campaign.started_by,
        requester_person=campaign.started_by_person,
    )
    case.emit(
        EventType.CASE_OPENED,
        at=now,
        actor=campaign.started_by,
        reason=case.reason,
        data={
            "channel": str(Channel.CAMPAIGN),
            "ticket": campaign.ticket,
            "campaign": campaign.id,
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
            "approvals": req.approvals,
            "campaign": campaign.id,
        },
    )
    case.move(
        CaseState.PROOFING,
        at=now,
        actor=SYSTEM_ACTOR,
        reason="a campaign contains; it proves no identity",
    )
    for count, given in enumerate(shared.approvals, start=1):
        case.approvals.append(given)
        case.emit(
            EventType.CASE_APPROVED,
            at=now,
            actor=f"operator:{given.operator_id}",
            reason=given.reason,
            data={"approvals": count, "required": req.approvals, "campaign": campaign.id},
        )
    case.move(CaseState.APPROVED, at=now, actor=SYSTEM_ACTOR, reason=shared.approved)
    case.issue_credential(None, subject, at=now)
    case.expires_at = now + req.case_ttl
    sealed = None
    if action in (CredentialAction.FORCE_RESET, CredentialAction.REISSUE):
        # A password nobody learns (192 random bits, every character class):
        # the old one stops working everywhere; the subject recovers through
        # the ordinary path.
        password = f"{secrets.token_urlsafe(24)}-Aa1"
        sealed = svc.sealer.seal(password, aad=seal_contexts.case_secret(case.id))
        del password
    return Opened(case, sealed, [])


def finish_if_done(svc: Services, campaign_id: str) -> int:
    """Finish a running campaign whose members all have a case, every one
    settled; returns 1 when it finished."""
    now = svc.clock.now()
    with svc.uow() as uow:
        campaign = uow.campaigns.get(campaign_id, for_update=True)
        if campaign.state != CampaignState.RUNNING:
            return 0
        if uow.campaigns.unsettled(campaign_id, [str(s) for s in SETTLED]):
            return 0
        states = uow.campaigns.case_states(campaign_id)
        members = uow.campaigns.counts(campaign_id)
        totals: dict[str, int] = {}
        for state in states.values():
            totals[state] = totals.get(state, 0) + 1
        campaign.move(CampaignState.FINISHED, at=now)
        campaign.emit(
            EventType.CAMPAIGN_FINISHED,
            at=now,
            actor=SYSTEM_ACTOR,
            subjects=sum(members.values()),
            cases=dict(sorted(totals.items())),
        )
        uow.campaigns.save(campaign)
        uow.ledger.append(campaign.pending_events)
        alert(svc, uow, campaign, EventType.CAMPAIGN_FINISHED, cases=totals)
        uow.commit()
    return 1
