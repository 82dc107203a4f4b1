"""The unit of work: one database transaction, the repositories bound to it, and
the side effects (mail, webhooks) that may only happen once it committed."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from custos.clock import Clock, SystemClock
from custos.store.case_repository import CaseRepository
from custos.store.contact_repository import ContactRepository
from custos.store.database import READ_ONLY, is_sqlite
from custos.store.hold_repository import HoldRepository
from custos.store.identity_repository import OperatorRepository, SubjectRepository
from custos.store.ledger_repository import LedgerRepository
from custos.store.oversight_repository import AlertRepository, RefusalWindowRepository

if TYPE_CHECKING:
    from custos.store.authenticator_repository import AuthenticatorRepository
    from custos.store.campaign_repository import CampaignRepository
    from custos.store.console_session_repository import ConsoleSessionRepository
    from custos.store.credential_repository import (
        EmailCodeRepository,
        EnrolmentRepository,
        FlowRepository,
        SecretRepository,
        TokenRepository,
    )
    from custos.store.exception_repository import ExceptionRepository
    from custos.store.operator_credential_repository import OperatorCredentialRepository
    from custos.store.outbox_repository import OutboxRepository
    from custos.store.owner_link_repository import OwnerLinkRepository
    from custos.store.proofing_repository import (
        AttestationRepository,
        ChallengeRepository,
        ProofedAttributeRepository,
        UsedJtiRepository,
    )
    from custos.store.rate_limit_repository import RateLimitRepository
    from custos.store.receipt_repository import ReceiptRepository
    from custos.store.repudiation_repository import RepudiationRepository
    from custos.store.risk_repository import RiskRepository
    from custos.store.rotation_repository import RotationRepository
    from custos.store.session_repository import SessionRepository
    from custos.store.ssf_repository import SetOutboxRepository, StreamRepository
    from custos.store.sso_attempt_repository import SsoAttemptRepository


class UnitOfWork:
    """Use as a context manager; call :meth:`commit` once. Leaving the block
    without committing rolls everything back, ledger entries included.
    ``clock`` is the time repositories read at when a question depends on it
    (which holds stand on a subject)."""

    conn: Connection

    def __init__(
        self, engine: Engine, *, read_only: bool = False, clock: Clock | None = None
    ) -> None:
        self._engine = engine
        self.read_only = read_only
        self.clock: Clock = clock or SystemClock()
        self._after_commit: list[Callable[[], None]] = []
        self.committed = False

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self._engine)

    def __enter__(self) -> UnitOfWork:
        self.conn = self._engine.connect()
        if self.read_only:
            self.conn = self.conn.execution_options(**{READ_ONLY: True})
        self._tx = self.conn.begin()
        self.ledger = LedgerRepository(self.conn)
        self.cases = CaseRepository(self.conn, self.ledger)
        self.subjects = SubjectRepository(self.conn, self.clock.now)
        self.holds = HoldRepository(self.conn)
        self.operators = OperatorRepository(self.conn)
        self.contacts = ContactRepository(self.conn)
        self.refusal_windows = RefusalWindowRepository(self.conn)
        self.alerts = AlertRepository(self.conn)
        return self

    # The repositories below are built at their first use in this unit: most
    # units use a few, and importing all of their modules took a noticeable
    # part of every command's start (bench/cli.py, a case listing).

    @cached_property
    def tokens(self) -> TokenRepository:
        from custos.store.credential_repository import TokenRepository

        return TokenRepository(self.conn)

    @cached_property
    def secrets(self) -> SecretRepository:
        from custos.store.credential_repository import SecretRepository

        return SecretRepository(self.conn)

    @cached_property
    def enrolments(self) -> EnrolmentRepository:
        from custos.store.credential_repository import EnrolmentRepository

        return EnrolmentRepository(self.conn)

    @cached_property
    def email_codes(self) -> EmailCodeRepository:
        from custos.store.credential_repository import EmailCodeRepository

        return EmailCodeRepository(self.conn)

    @cached_property
    def flows(self) -> FlowRepository:
        from custos.store.credential_repository import FlowRepository

        return FlowRepository(self.conn)

    @cached_property
    def receipts(self) -> ReceiptRepository:
        from custos.store.receipt_repository import ReceiptRepository

        return ReceiptRepository(self.conn)

    @cached_property
    def repudiations(self) -> RepudiationRepository:
        from custos.store.repudiation_repository import RepudiationRepository

        return RepudiationRepository(self.conn)

    @cached_property
    def outbox(self) -> OutboxRepository:
        from custos.store.outbox_repository import OutboxRepository

        return OutboxRepository(self.conn)

    @cached_property
    def authenticators(self) -> AuthenticatorRepository:
        from custos.store.authenticator_repository import AuthenticatorRepository

        return AuthenticatorRepository(self.conn)

    @cached_property
    def sessions(self) -> SessionRepository:
        from custos.store.session_repository import SessionRepository

        return SessionRepository(self.conn)

    @cached_property
    def console_sessions(self) -> ConsoleSessionRepository:
        from custos.store.console_session_repository import ConsoleSessionRepository

        return ConsoleSessionRepository(self.conn)

    @cached_property
    def operator_credentials(self) -> OperatorCredentialRepository:
        from custos.store.operator_credential_repository import OperatorCredentialRepository

        return OperatorCredentialRepository(self.conn)

    @cached_property
    def limits(self) -> RateLimitRepository:
        from custos.store.rate_limit_repository import RateLimitRepository

        return RateLimitRepository(self.conn)

    @cached_property
    def risk(self) -> RiskRepository:
        from custos.store.risk_repository import RiskRepository

        return RiskRepository(self.conn)

    @cached_property
    def proofed_attributes(self) -> ProofedAttributeRepository:
        from custos.store.proofing_repository import ProofedAttributeRepository

        return ProofedAttributeRepository(self.conn)

    @cached_property
    def used_jtis(self) -> UsedJtiRepository:
        from custos.store.proofing_repository import UsedJtiRepository

        return UsedJtiRepository(self.conn)

    @cached_property
    def attestations(self) -> AttestationRepository:
        from custos.store.proofing_repository import AttestationRepository

        return AttestationRepository(self.conn)

    @cached_property
    def challenges(self) -> ChallengeRepository:
        from custos.store.proofing_repository import ChallengeRepository

        return ChallengeRepository(self.conn)

    @cached_property
    def sso_attempts(self) -> SsoAttemptRepository:
        from custos.store.sso_attempt_repository import SsoAttemptRepository

        return SsoAttemptRepository(self.conn)

    @cached_property
    def ssf_streams(self) -> StreamRepository:
        from custos.store.ssf_repository import StreamRepository

        return StreamRepository(self.conn)

    @cached_property
    def ssf_outbox(self) -> SetOutboxRepository:
        from custos.store.ssf_repository import SetOutboxRepository

        return SetOutboxRepository(self.conn)

    @cached_property
    def owner_links(self) -> OwnerLinkRepository:
        from custos.store.owner_link_repository import OwnerLinkRepository

        return OwnerLinkRepository(self.conn)

    @cached_property
    def rotations(self) -> RotationRepository:
        from custos.store.rotation_repository import RotationRepository

        return RotationRepository(self.conn)

    @cached_property
    def campaigns(self) -> CampaignRepository:
        from custos.store.campaign_repository import CampaignRepository

        return CampaignRepository(self.conn)

    @cached_property
    def exceptions(self) -> ExceptionRepository:
        from custos.store.exception_repository import ExceptionRepository

        return ExceptionRepository(self.conn)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the transaction committed (never if it rolled back)."""
        self._after_commit.append(action)

    def commit(self) -> None:
        self._tx.commit()
        self.committed = True
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tx.is_active:
            self._tx.rollback()
        self.conn.close()
