"""Row <-> domain conversions. Kept apart from the queries so repositories read
as the questions they answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Text, cast

from custos.domain.holds import HoldRecord
from custos.domain.model import (
    Approval,
    BreakGlass,
    Case,
    Channel,
    Contact,
    CredentialAction,
    Employment,
    LinkedAccount,
    Operator,
    ProofRecord,
    Requirements,
    RiskAssessment,
    Role,
    Subject,
    SubjectKind,
)
from custos.domain.states import CaseState
from custos.proofing.base import METHODS


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything Custos stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def maybe_aware(value: datetime | None) -> datetime | None:
    return None if value is None else aware(value)


def subject_from_row(
    row: Any,
    accounts: list[LinkedAccount],
    contacts: tuple[Contact, ...] = (),
    holds: frozenset[str] = frozenset(),
) -> Subject:
    """``contacts``: the subject's confirmed, not removed rows of subject_contacts;
    ``holds``: the kinds of the holds standing on it or its groups."""
    return Subject(
        id=row.id,
        display_name=row.display_name,
        kind=SubjectKind(row.kind),
        employment=Employment(row.employment),
        privileged=bool(row.privileged),
        groups=frozenset(row.groups),
        manager=row.manager,
        sponsor=row.sponsor,
        owner=row.owner,
        owners=tuple(row.owners or ((row.owner,) if row.owner else ())),
        contacts=contacts,
        holds=holds,
        accounts=tuple(accounts),
        mfa_bound=bool(row.mfa_bound),
        time_zone=row.time_zone,
        ial=int(row.ial),
        contract_end=maybe_aware(row.contract_end),
        employee_id=row.employee_id,
        attribute_sources=dict(row.attribute_sources or {}),
        phishing_resistant_bind_due=bool(row.phishing_resistant_bind_due),
    )


def subject_to_row(subject: Subject) -> dict[str, Any]:
    return {
        "id": subject.id,
        "display_name": subject.display_name,
        "kind": str(subject.kind),
        "employment": str(subject.employment),
        "privileged": subject.privileged,
        "groups": sorted(subject.groups),
        "manager": subject.manager,
        "sponsor": subject.sponsor,
        "owner": subject.owner,
        "owners": list(subject.owners) or None,
        "mfa_bound": subject.mfa_bound,
        "time_zone": subject.time_zone,
        "ial": subject.ial,
        "contract_end": subject.contract_end,
        "employee_id": subject.employee_id,
        "attribute_sources": dict(sorted(subject.attribute_sources.items())),
        # phishing_resistant_bind_due is not here: only set_bind_due writes it,
        # so saving a subject read earlier never clears (or sets) it by accident.
    }


def operator_from_row(row: Any) -> Operator:
    return Operator(
        id=row.id,
        name=row.name,
        person=row.person,
        roles=frozenset(Role(r) for r in row.roles),
        scope=frozenset(row.scope),
        groups=frozenset(row.groups),
        active=bool(row.active),
    )


def requirements_to_json(req: Requirements) -> dict[str, Any]:
    return {
        "tier": req.tier,
        "action": str(req.action),
        "channels": sorted(str(c) for c in req.channels),
        "factors": req.factors,
        "methods": sorted(req.methods),
        "phishing_resistant": req.phishing_resistant,
        "approvals": req.approvals,
        "approver_groups": sorted(req.approver_groups),
        "approval_expiry_s": int(req.approval_expiry.total_seconds()),
        "token_ttl_s": int(req.token_ttl.total_seconds()),
        "post_checks": list(req.post_checks),
        "required_targets": None if req.required_targets is None else list(req.required_targets),
        "case_ttl_s": int(req.case_ttl.total_seconds()),
        "max_proofing_failures": req.max_proofing_failures,
        "policy_hash": req.policy_hash,
        "policy_version": req.policy_version,
        "risk_band": req.risk_band,
        "refused": req.refused,
        "refusal_reason": req.refusal_reason,
        "aal": req.aal,
        "min_ial": req.min_ial,
        "optional_checks": sorted(req.optional_checks),
        "mfa_authenticators": sorted(req.mfa_authenticators),
        "required_methods": sorted(req.required_methods),
        "instructions": req.instructions,
        "break_glass": _break_glass_to_json(req.break_glass),
    }


def _break_glass_to_json(use: BreakGlass | None) -> dict[str, Any] | None:
    if use is None:
        return None
    return {
        "exception": use.exception,
        "invoked_by": use.invoked_by,
        "invoker_person": use.invoker_person,
        "at": use.at.isoformat(),
        "security_groups": sorted(use.security_groups),
    }


def _break_glass_from_json(data: dict[str, Any] | None) -> BreakGlass | None:
    if not data:
        return None
    return BreakGlass(
        exception=data["exception"],
        invoked_by=data["invoked_by"],
        invoker_person=data["invoker_person"],
        at=datetime.fromisoformat(data["at"]),
        security_groups=frozenset(data["security_groups"]),
    )


def requirements_from_json(data: dict[str, Any]) -> Requirements:
    targets = data["required_targets"]
    return Requirements(
        tier=data["tier"],
        action=CredentialAction(data["action"]),
        channels=frozenset(Channel(c) for c in data["channels"]),
        factors=data["factors"],
        methods=frozenset(data["methods"]),
        phishing_resistant=data["phishing_resistant"],
        approvals=data["approvals"],
        approver_groups=frozenset(data["approver_groups"]),
        approval_expiry=timedelta(seconds=data["approval_expiry_s"]),
        token_ttl=timedelta(seconds=data["token_ttl_s"]),
        post_checks=tuple(data["post_checks"]),
        required_targets=None if targets is None else tuple(targets),
        case_ttl=timedelta(seconds=data["case_ttl_s"]),
        max_proofing_failures=data["max_proofing_failures"],
        policy_hash=data["policy_hash"],
        policy_version=data["policy_version"],
        risk_band=data["risk_band"],
        refused=data.get("refused", False),
        refusal_reason=data.get("refusal_reason", ""),
        aal=data.get("aal"),
        min_ial=data.get("min_ial"),
        # Cases frozen before these keys existed: nothing was optional, and the
        # phishing-resistant kind is the strictest reading of mfa_bound.
        optional_checks=frozenset(data.get("optional_checks", ())),
        mfa_authenticators=frozenset(data.get("mfa_authenticators", ("webauthn",))),
        required_methods=frozenset(data.get("required_methods", ())),
        instructions=data.get("instructions", ""),
        break_glass=_break_glass_from_json(data.get("break_glass")),
    )


#: Requirements and risk reasons by the stored JSON text they were read from
#: (``stored_json``): the cases of one tier and policy share one frozen value,
#: decoded once. Emptied whenever it reaches ``_DECODED_MAX`` entries.
_requirements: dict[str, Requirements] = {}
_reasons: dict[str, tuple[str, ...]] = {}
_DECODED_MAX = 512
T = TypeVar("T")


def stored_json(column: Any) -> Any:
    """``column`` (a JSON column) selected as the text the database holds,
    labelled with its own name, for the decoders below to read once per text."""
    return cast(column, Text).label(column.key)


def _decoded(cache: dict[str, T], text: str, decode: Callable[[Any], T]) -> T:
    """``decode(json.loads(text))``, once per distinct ``text`` (``cache``)."""
    found = cache.get(text)
    if found is None:
        if len(cache) >= _DECODED_MAX:
            cache.clear()
        found = cache[text] = decode(json.loads(text))
    return found


def requirements_from_stored(value: str | dict[str, Any]) -> Requirements:
    """A case's requirements from its stored JSON text (a decoded value too)."""
    if not isinstance(value, str):
        return requirements_from_json(value)
    return _decoded(_requirements, value, requirements_from_json)


def _reasons_from_stored(value: str | list[str]) -> tuple[str, ...]:
    if not isinstance(value, str):
        return tuple(value)
    return _decoded(_reasons, value, tuple)


#: The columns of a case row that only its requirements and risk assessment
#: (both frozen on the case) determine.
FROZEN_CASE_COLUMNS = (
    "tier",
    "policy_hash",
    "requirements",
    "risk_score",
    "risk_band",
    "risk_reasons",
)


def case_to_row(case: Case, *, with_frozen: bool = True) -> dict[str, Any]:
    """The case's row; ``with_frozen=False`` leaves out ``FROZEN_CASE_COLUMNS``
    (for an update of a case whose requirements and risk did not change)."""
    if not with_frozen:
        return _case_row(case)
    return {
        **_case_row(case),
        "tier": case.requirements.tier,
        "policy_hash": case.requirements.policy_hash,
        "requirements": requirements_to_json(case.requirements),
        "risk_score": case.risk.score,
        "risk_band": case.risk.band,
        "risk_reasons": list(case.risk.reasons),
    }


def _case_row(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "subject_id": case.subject_id,
        "channel": str(case.channel),
        "reason": case.reason,
        "state": str(case.state),
        "opened_at": case.opened_at,
        "updated_at": case.updated_at,
        "expires_at": case.expires_at,
        "requested_by": case.requested_by,
        "requester_person": case.requester_person,
        "executed_by": case.executed_by,
        "executor_person": case.executor_person,
        "executed_at": case.executed_at,
        "validated_by": case.validated_by,
        "validated_at": case.validated_at,
        "outcome_reason": case.outcome_reason,
        "held_from": None if case.held_from is None else str(case.held_from),
        "held_at": case.held_at,
        "on_behalf_of": case.on_behalf_of,
    }


def case_from_rows(row: Any, approval_rows: list[Any], proof_rows: list[Any]) -> Case:
    """A case from its row: ``requirements`` and ``risk_reasons`` decoded, or
    their stored text (``stored_json``)."""
    return Case(
        id=row.id,
        subject_id=row.subject_id,
        channel=Channel(row.channel),
        reason=row.reason,
        state=CaseState(row.state),
        opened_at=aware(row.opened_at),
        updated_at=aware(row.updated_at),
        expires_at=aware(row.expires_at),
        requirements=requirements_from_stored(row.requirements),
        risk=RiskAssessment(
            score=row.risk_score, band=row.risk_band, reasons=_reasons_from_stored(row.risk_reasons)
        ),
        requested_by=row.requested_by,
        requester_person=row.requester_person,
        on_behalf_of=row.on_behalf_of,
        approvals=[
            Approval(
                operator_id=a.operator_id,
                person=a.person,
                decided_at=aware(a.decided_at),
                reason=a.reason,
            )
            for a in approval_rows
        ],
        proofs=[
            ProofRecord(
                method=p.method,
                passed=bool(p.passed),
                at=aware(p.at),
                actor=p.actor,
                phishing_resistant=bool(p.phishing_resistant),
                kind=METHODS[p.method].kind if p.method in METHODS else None,
            )
            for p in proof_rows
        ],
        executed_by=row.executed_by,
        executor_person=row.executor_person,
        executed_at=maybe_aware(row.executed_at),
        validated_by=row.validated_by,
        validated_at=maybe_aware(row.validated_at),
        outcome_reason=row.outcome_reason,
        held_from=None if row.held_from is None else CaseState(row.held_from),
        held_at=maybe_aware(row.held_at),
        version=row.version,
    )


def hold_from_row(row: Any) -> HoldRecord:
    return HoldRecord(
        id=row.id,
        kind=row.kind,
        subject_id=row.subject_id,
        group=row.group_name,
        reason=row.reason,
        ticket=row.ticket,
        set_by=row.set_by,
        set_by_person=row.set_by_person,
        set_at=aware(row.set_at),
        ends_at=maybe_aware(row.ends_at),
        lifted_by=row.lifted_by,
        lifted_by_person=row.lifted_by_person,
        lifted_at=maybe_aware(row.lifted_at),
        lift_reason=row.lift_reason,
        expired_at=maybe_aware(row.expired_at),
    )


def hold_to_row(hold: HoldRecord) -> dict[str, Any]:
    return {
        "id": hold.id,
        "kind": hold.kind,
        "subject_id": hold.subject_id,
        "group_name": hold.group,
        "reason": hold.reason,
        "ticket": hold.ticket,
        "set_by": hold.set_by,
        "set_by_person": hold.set_by_person,
        "set_at": hold.set_at,
        "ends_at": hold.ends_at,
        "lifted_by": hold.lifted_by,
        "lifted_by_person": hold.lifted_by_person,
        "lifted_at": hold.lifted_at,
        "lift_reason": hold.lift_reason,
        "expired_at": hold.expired_at,
    }
