"""Domain events: every change of a case emits one, written to the ledger in the
same transaction as the change (STYLE 2, 9).

Event types are ``source:subject:action`` strings. The record is plain data that
``canonical()`` turns into RFC 8785-ready primitives, so it can be hashed later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timezone
from enum import StrEnum


class EventType(StrEnum):
    CASE_OPENED = "case:case:opened"
    CASE_STATE_CHANGED = "case:case:state_changed"
    CASE_APPROVED = "case:approval:granted"
    CASE_VALIDATED = "case:case:validated"
    RISK_ASSESSED = "risk:case:assessed"
    TIER_SELECTED = "policy:case:tier_selected"
    PROOFING_ATTEMPTED = "proofing:case:attempted"
    PROOFING_SATISFIED = "proofing:case:satisfied"
    PROOFING_THROTTLED = "proofing:subject:throttled"
    CHALLENGE_SENT = "proofing:contact:code_sent"
    RECOVERY_CODE_USED = "proofing:recovery_code:used"
    TOKEN_ISSUED = "credential:token:issued"
    TOKEN_REDEEMED = "credential:token:redeemed"
    TOKEN_REJECTED = "credential:token:rejected"
    TOKENS_VOIDED = "credential:token:voided"
    #: A reissue removed every authenticator bound in Custos (targets: receipts).
    AUTHENTICATORS_REMOVED = "credential:authenticators:removed"
    #: A refused self-service request: the subject's confirmed contacts are told
    #: whom to contact (never the caller, R-19).
    REFUSAL_SENT = "notify:case:refusal_sent"
    TEMP_PASSWORD_ISSUED = "credential:temp_password:issued"
    #: R-5: a recovery's fresh proof reset a locked authenticator (data: method, levels).
    AUTHENTICATOR_LOCK_RESET = "credential:authenticator_lock:reset"
    #: R-5: a locked authenticator above the level the recovery proved stays locked.
    AUTHENTICATOR_LOCK_KEPT = "credential:authenticator_lock:kept"
    PASSWORD_REJECTED = "credential:password:rejected"
    SECRET_WIPED = "credential:secret:wiped"
    RECEIPT_ATTEMPTED = "propagation:receipt:attempted"
    RECEIPT_SUCCEEDED = "propagation:receipt:succeeded"
    RECEIPT_FAILED = "propagation:receipt:failed"
    CHECK_PASSED = "verification:check:passed"
    CHECK_FAILED = "verification:check:failed"
    NOTIFICATION_SENT = "notify:subject:sent"
    NOTIFICATION_FAILED = "notify:subject:failed"
    FRAUD_FLAGGED = "case:fraud:flagged"
    OPERATOR_CREATED = "admin:operator:created"
    SUBJECTS_SYNCED = "admin:subjects:synced"
    #: A sync changed a subject's mapped attributes (data: what changed, from which attribute).
    SUBJECT_ATTRIBUTES_CHANGED = "sync:subject:attributes_changed"
    #: A sync moved a subject to another policy tier (data: from, to, because).
    SUBJECT_TIER_CHANGED = "sync:subject:tier_changed"
    #: R-45: the subject's next sign-in must bind a phishing-resistant authenticator.
    BIND_REQUIRED = "enrolment:subject:bind_required"
    #: R-45 satisfied: a phishing-resistant authenticator was bound or used.
    BIND_SATISFIED = "enrolment:subject:bind_satisfied"
    ACCOUNT_LINKED = "sync:account:linked"
    DRIFT_CHECKED = "verification:drift:checked"
    OPERATOR_TOKEN_ROTATED = "admin:operator:token_rotated"
    SELF_SERVICE_STARTED = "self_service:flow:started"
    # Subject self-management (docs/enrolment.md): sign-in, contacts, authenticators.
    SESSION_SIGNED_IN = "auth:session:signed_in"
    SESSION_SIGN_IN_FAILED = "auth:session:sign_in_failed"
    SESSION_REAUTHENTICATED = "auth:session:reauthenticated"
    SESSION_ENDED = "auth:session:ended"
    CONTACT_ADDED = "enrolment:contact:added"
    CONTACT_CONFIRMED = "enrolment:contact:confirmed"
    CONTACT_CODE_VOIDED = "enrolment:contact:code_voided"
    CONTACT_REMOVED = "enrolment:contact:removed"
    TOTP_BOUND = "enrolment:totp:bound"
    TOTP_REVOKED = "enrolment:totp:revoked"
    WEBAUTHN_BOUND = "enrolment:webauthn:bound"
    WEBAUTHN_REVOKED = "enrolment:webauthn:revoked"
    RECOVERY_CODES_BOUND = "enrolment:recovery_codes:bound"
    RECOVERY_CODES_REVOKED = "enrolment:recovery_codes:revoked"
    WEBAUTHN_LINK_SENT = "proofing:webauthn:link_sent"
    LEDGER_KEY_ROTATED = "admin:ledger_key:rotated"
    #: ``custos keys rotate-sealing`` (R-36): key ids, the store, where the old ring is kept.
    SEALING_KEY_ROTATION_STARTED = "admin:sealing_key:rotation_started"
    SEALING_KEY_ROTATION_RESUMED = "admin:sealing_key:rotation_resumed"
    #: Every value re-sealed; the old keys left the ring (data: counts, key ids).
    SEALING_KEY_ROTATION_FINISHED = "admin:sealing_key:rotation_finished"
    #: ``custos backup``: where, the copy's SHA-256, the ledger size and root it holds.
    DATABASE_BACKED_UP = "admin:database:backed_up"
    #: ``custos restore``: from which backup, what was lost, whether it was forced.
    DATABASE_RESTORED = "admin:database:restored"
    LEDGER_VERIFIED = "audit:ledger:verified"
    LEDGER_TAMPER_DETECTED = "audit:ledger:tamper_detected"
    EVIDENCE_EXPORTED = "audit:evidence:exported"
    CODE_SEND_SUPPRESSED = "proofing:code:suppressed"
    SMS_BLOCKED = "proofing:sms:blocked"
    SIM_SWAP_RECEIVED = "risk:subject:sim_swap_reported"
    INCIDENT_STARTED = "admin:incident:started"
    INCIDENT_STOPPED = "admin:incident:stopped"
    REPROOFING_CHECKED = "proofing:reproofing:checked"
    ATTESTATION_REQUESTED = "proofing:attestation:requested"
    ATTESTATION_ATTESTED = "proofing:attestation:attested"
    ATTESTATION_REFUSED = "proofing:attestation:refused"
    AGENT_CHALLENGE_SENT = "proofing:agent_challenge:sent"
    AGENT_CHALLENGE_ANSWERED = "proofing:agent_challenge:answered"
    AGENT_CHALLENGE_SUPPRESSED = "proofing:agent_challenge:suppressed"
    # Operators in the console (docs/console.md): sign-in, sessions, administration.
    OPERATOR_SIGNED_IN = "auth:operator:signed_in"
    OPERATOR_SIGN_IN_FAILED = "auth:operator:sign_in_failed"
    OPERATOR_SESSION_ENDED = "auth:operator:session_ended"
    OPERATOR_SECOND_FACTOR_BOUND = "auth:operator:second_factor_bound"
    OPERATOR_PASSWORD_SET = "admin:operator:password_set"
    OPERATOR_DISABLED = "admin:operator:disabled"
    OPERATOR_ENABLED = "admin:operator:enabled"
    OPERATOR_ROLES_CHANGED = "admin:operator:roles_changed"
    OPERATOR_TOKEN_REVOKED = "admin:operator:token_revoked"
    # Shared signals (docs/shared-signals.md): streams, their SETs, the signing keys.
    SSF_STREAM_CREATED = "admin:ssf_stream:created"
    SSF_STREAM_UPDATED = "admin:ssf_stream:updated"
    SSF_STREAM_STATUS_CHANGED = "admin:ssf_stream:status_changed"
    SSF_STREAM_DELETED = "admin:ssf_stream:deleted"
    SSF_VERIFICATION_REQUESTED = "admin:ssf_stream:verification_requested"
    SSF_KEY_ROTATED = "admin:ssf_key:rotated"
    SSF_KEY_RETIRED = "admin:ssf_key:retired"
    #: A SET reached its receiver (202); data: stream, event type, jti.
    SSF_SET_DELIVERED = "ssf:set:delivered"
    #: A SET was refused for good (400 with its ``err``) or ran out of attempts.
    SSF_SET_FAILED = "ssf:set:failed"
    #: An admin revoked an operator's second factors: the next sign-in enrols anew.
    OPERATOR_SECOND_FACTOR_RESET = "admin:operator:second_factor_reset"
    #: A one-time console link for an operator (data: purpose, expires_at; never the link).
    OPERATOR_LINK_ISSUED = "admin:operator:link_issued"
    # Holds (docs/holds.md): set, lifted by another person, or ended by their end time.
    HOLD_SET = "governance:hold:set"
    HOLD_LIFTED = "governance:hold:lifted"
    #: A lift refused (data: the rule, e.g. the setter may not lift their own hold).
    HOLD_LIFT_REFUSED = "governance:hold:lift_refused"
    #: The worker ended a hold whose end time passed.
    HOLD_EXPIRED = "governance:hold:expired"
    # Exceptions and break-glass (docs/exceptions.md).
    EXCEPTION_REQUESTED = "governance:exception:requested"
    EXCEPTION_APPROVED = "governance:exception:approved"
    EXCEPTION_REVOKED = "governance:exception:revoked"
    #: The worker recorded that an exception's end time passed.
    EXCEPTION_EXPIRED = "governance:exception:expired"
    #: A case used an exception (data: exception, relaxation).
    EXCEPTION_USED = "governance:exception:used"
    BREAK_GLASS_USED = "governance:break_glass:used"
    #: A break-glass attempt refused (data: error, e.g. no security approver).
    BREAK_GLASS_REFUSED = "governance:break_glass:refused"
    # Shared accounts (docs/shared-accounts.md): only an owner asks; each owner
    # gets their own one-time link to the one new credential.
    #: A request for a shared account by someone who is not one of its owners.
    SHARED_REQUEST_REFUSED = "case:shared_account:request_refused"
    #: One link per owner (data: owners, expires_at; never a link or the credential).
    OWNER_LINKS_ISSUED = "credential:owner_link:issued"
    #: One owner opened their link and saw the credential once (data: owner, first).
    OWNER_LINK_REDEEMED = "credential:owner_link:redeemed"
    # Temporary Access Pass of a reissue (docs/policy.md#temporary_access_pass):
    # never the pass or the link, only where, how long and what became of it.
    #: Issued on a target after its factors were removed (data: target, account,
    #: lifetime_minutes, usable_once, link_expires_at).
    TAP_ISSUED = "credential:tap:issued"
    #: The subject opened the one-time link and saw the pass once (data: target).
    TAP_RETRIEVED = "credential:tap:retrieved"
    #: The link was opened again, or after it lapsed (data: target; reason).
    TAP_RETRIEVAL_REFUSED = "credential:tap:retrieval_refused"
    #: The worker deleted the pass on its target (data: target, account, deleted; reason).
    TAP_DELETED = "credential:tap:deleted"
    # Oversight (docs/oversight.md): refusals and operator anomalies.
    #: An operator's action was refused (data: kind, action, error, rule); the
    #: first of its window, written in full.
    OPERATOR_REFUSED = "oversight:operator:refused"
    #: A closed window's count of refusals of one actor and kind (a flood, summarised).
    REFUSALS_SUMMARISED = "oversight:refusals:summarised"
    #: An operator's work deviated from their baseline (data: signal, measured, entries).
    OPERATOR_ANOMALY_RAISED = "oversight:anomaly:raised"
    # Service accounts (docs/service-accounts.md; ).
    #: A rotation asked for by someone who is not the account's owner (refused).
    SERVICE_ROTATION_REFUSED = "service:rotation:refused"
    #: The worker found a credential past the tier's max_age and opened a case.
    SERVICE_ROTATION_DUE = "service:rotation:due"
    #: Custos generated the secret (data: length, alphabet size, link expiry; never the secret).
    SERVICE_SECRET_ISSUED = "service:secret:issued"
    #: The owner retrieved the secret through the one-time link.
    SERVICE_SECRET_RETRIEVED = "service:secret:retrieved"
    #: A retrieval refused (used, lapsed, wrong link); data: why.
    SERVICE_SECRET_RETRIEVAL_REFUSED = "service:secret:retrieval_refused"
    #: The link lapsed unretrieved: the sealed copy for the owner was wiped.
    SERVICE_SECRET_LAPSED = "service:secret:lapsed"
    #: A target kept the old credential for the grace period (data: target, revoke_after).
    CREDENTIAL_GRACE_STARTED = "service:credential:grace_started"
    #: A target that cannot hold two credentials: the old one stopped at once.
    CREDENTIAL_REPLACED_AT_ONCE = "service:credential:replaced_at_once"
    #: The worker revoked an old credential after its grace period (read back).
    CREDENTIAL_OLD_REVOKED = "service:credential:old_revoked"
    #: Revoking an old credential failed; it stays due and is retried.
    CREDENTIAL_REVOKE_FAILED = "service:credential:revoke_failed"
    #: An owner's service account passed to their successor (owner departure).
    SERVICE_OWNER_TRANSFERRED = "service:owner:transferred"
    #: A target reported interactive logons with a service credential (R-42).
    SERVICE_INTERACTIVE_USE = "service:credential:interactive_use"
    # Incident campaigns (docs/campaigns.md): containment of a group, one case per
    # subject, approved once for the whole campaign by two other people.
    CAMPAIGN_STARTED = "oversight:campaign:started"
    CAMPAIGN_APPROVED = "oversight:campaign:approved"
    #: An approval refused (data: the rule, e.g. the starter may not approve).
    CAMPAIGN_APPROVAL_REFUSED = "oversight:campaign:approval_refused"
    CAMPAIGN_PAUSED = "oversight:campaign:paused"
    CAMPAIGN_RESUMED = "oversight:campaign:resumed"
    CAMPAIGN_CANCELLED = "oversight:campaign:cancelled"
    #: Every subject has its case and every case reached a final state.
    CAMPAIGN_FINISHED = "oversight:campaign:finished"


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


def utc(dt: datetime) -> str:
    """ISO-8601 UTC with microseconds and a ``Z``: one spelling for hashing."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: The last time :meth:`DomainEvent.canonical` spelled, and its spelling.
_last_time: tuple[object, str] = (None, "")


def _event_time(dt: datetime) -> str:
    """``utc(dt)``, again for the same object without formatting it: the events
    of one batch share their time. Kept only for an exact ``datetime`` with a
    fixed offset (``datetime.timezone``), which is immutable and converts
    without calling anything it could override; one (object, text) pair, read
    and replaced whole, so threads cannot mix two."""
    global _last_time
    last = _last_time
    if dt is last[0]:
        return last[1]
    text = utc(dt)
    if type(dt) is datetime and type(dt.tzinfo) is timezone:
        _last_time = (dt, text)
    return text


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """One auditable fact (R-35): type, UTC time, actor, subject, object (case),
    outcome, reason and free data. ``data`` never holds a secret (R-37)."""

    type: EventType
    occurred_at: datetime
    actor: str
    subject_id: str | None
    case_id: str | None
    outcome: Outcome = Outcome.SUCCESS
    reason: str = ""
    data: dict[str, object] = field(default_factory=dict)
    source: str = "custos"

    def canonical(self) -> dict[str, object]:
        """Plain JSON-ready form, stable for RFC 8785 canonicalisation."""
        return {
            "type": str(self.type),
            "time": _event_time(self.occurred_at),
            "source": self.source,
            "actor": self.actor,
            "subject": self.subject_id,
            "case": self.case_id,
            "outcome": str(self.outcome),
            "reason": self.reason,
            "data": self.data,
        }
