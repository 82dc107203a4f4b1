"""Domain errors: one root, each with a stable error id.

Hierarchy::

    DomainError
    ├── IllegalTransition          case_illegal_transition
    ├── NotFound                   not_found
    ├── SeparationOfDuties         sod_violation
    │   └── HoldLiftBySetter       hold_lift_by_setter
    ├── OutOfScope                 out_of_scope
    ├── NotAuthorized              not_authorized
    │   └── ReauthenticationRequired  reauthentication_required
    ├── ChannelNotAllowed          channel_not_allowed
    ├── RecoveryBlocked            recovery_blocked
    │   ├── SmsBlocked             sms_blocked
    │   └── RecoveryRefused        recovery_refused
    ├── ProofingFailed             proofing_failed
    │   └── CodeVoided             code_voided
    ├── ProofingIncomplete         proofing_incomplete
    ├── Throttled                  throttled
    ├── AlreadyDecided             already_decided
    │   └── HoldNotStanding        hold_not_standing
    ├── TokenInvalid               token_invalid
    ├── PasswordRejected           password_rejected
    ├── CaseExpired                case_expired
    ├── SignatureInvalid           signature_invalid
    └── InvalidInput               invalid_input
        └── ReproofingFirst        reproofing_first

Campaigns add: CampaignSelfApproval (SeparationOfDuties, campaign_self_approval)
and CampaignNotActive (AlreadyDecided, campaign_not_active).

Faces map these to HTTP or console answers in one module each; handlers never
format responses themselves.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """Root of every error a user of Custos may see. ``error_id`` is stable."""

    error_id: ClassVar[str] = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, object] = details


class IllegalTransition(DomainError):
    error_id = "case_illegal_transition"


class NotFound(DomainError):
    error_id = "not_found"


class SeparationOfDuties(DomainError):
    error_id = "sod_violation"


class HoldLiftBySetter(SeparationOfDuties):
    """The person who set a hold tries to lift it: a different person must."""

    error_id = "hold_lift_by_setter"


class OutOfScope(DomainError):
    error_id = "out_of_scope"


class NotAuthorized(DomainError):
    error_id = "not_authorized"


class ReauthenticationRequired(NotAuthorized):
    """A sensitive change needs a fresh full re-authentication (R-27) at a high
    enough assurance level (R-28)."""

    error_id = "reauthentication_required"


class PhishingResistantBindRequired(NotAuthorized):
    """After a help-desk (agent-assisted) recovery the subject must first bind a
    phishing-resistant authenticator (WebAuthn) or sign in with one (R-45)."""

    error_id = "phishing_resistant_bind_required"


class ChannelNotAllowed(DomainError):
    error_id = "channel_not_allowed"


class RecoveryBlocked(DomainError):
    error_id = "recovery_blocked"


class SmsBlocked(RecoveryBlocked):
    """SMS recovery refused while a SIM-swap or porting signal is recent (R-44)."""

    error_id = "sms_blocked"


class RecoveryRefused(RecoveryBlocked):
    """The policy refuses this recovery here (a ``refuse`` tier, an ended
    contract, a requester who is not an owner); the message says whom to contact."""

    error_id = "recovery_refused"


class ProofingFailed(DomainError):
    error_id = "proofing_failed"


class CodeVoided(ProofingFailed):
    """A one-time code voided after too many wrong guesses: no answer can pass
    any more, a new code must be asked for."""

    error_id = "code_voided"


class ProofingIncomplete(DomainError):
    error_id = "proofing_incomplete"


class Throttled(DomainError):
    error_id = "throttled"

    def __init__(self, message: str, *, retry_after_seconds: int, **details: object) -> None:
        super().__init__(message, retry_after_seconds=retry_after_seconds, **details)
        self.retry_after_seconds = retry_after_seconds


class AlreadyDecided(DomainError):
    error_id = "already_decided"


class HoldNotStanding(AlreadyDecided):
    """The hold was lifted already, or its end time passed."""

    error_id = "hold_not_standing"


class TokenInvalid(DomainError):
    error_id = "token_invalid"


class PasswordRejected(DomainError):
    error_id = "password_rejected"


class CaseExpired(DomainError):
    error_id = "case_expired"


class SignatureInvalid(DomainError):
    """A signed inbound request (a carrier's SIM-swap webhook) whose signature,
    timestamp or freshness does not check out; answered 401."""

    error_id = "signature_invalid"


class InvalidInput(DomainError):
    error_id = "invalid_input"


class ReproofingFirst(InvalidInput):
    """A ``reproof`` tier: identity re-proofing must pass before any other proof."""

    error_id = "reproofing_first"


# -- exceptions and break-glass (docs/exceptions.md) ---------------------------
class ExceptionNotActive(DomainError):
    """An exception used, approved or revoked that is pending, expired or revoked."""

    error_id = "exception_not_active"


class ExceptionApprovalRefused(SeparationOfDuties):
    """The requester, or a person who already approved, approves an exception."""

    error_id = "exception_approval_refused"


class BreakGlassRefused(DomainError):
    """A break-glass approval or use without what it needs (a security approver,
    a reason, an active break-glass exception)."""

    error_id = "break_glass_refused"


class NotAnOwner(RecoveryRefused):
    """A shared account's recovery asked by (or on behalf of) someone who is not
    one of its owners (docs/shared-accounts.md)."""

    error_id = "not_an_owner"


class CampaignSelfApproval(SeparationOfDuties):
    """The starter of an incident campaign approved it, or one person twice."""

    error_id = "campaign_self_approval"


class CampaignNotActive(AlreadyDecided):
    """The campaign is not in a state that allows this (e.g. resume a running one)."""

    error_id = "campaign_not_active"
