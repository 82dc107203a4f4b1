"""The unit of work: one database transaction, the repositories bound to it, and
the side effects (mail, webhooks) that may only happen once it committed."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sqlalchemy import Connection, Engine

from custos.clock import Clock, SystemClock
from custos.store.authenticator_repository import AuthenticatorRepository
from custos.store.campaign_repository import CampaignRepository
from custos.store.case_repository import CaseRepository
from custos.store.console_session_repository import ConsoleSessionRepository
from custos.store.contact_repository import ContactRepository
from custos.store.credential_repository import (
    EmailCodeRepository,
    EnrolmentRepository,
    FlowRepository,
    SecretRepository,
    TokenRepository,
)
from custos.store.database import READ_ONLY, is_sqlite
from custos.store.exception_repository import ExceptionRepository
from custos.store.hold_repository import HoldRepository
from custos.store.identity_repository import OperatorRepository, SubjectRepository
from custos.store.ledger_repository import LedgerRepository
from custos.store.operator_credential_repository import OperatorCredentialRepository
from custos.store.outbox_repository import OutboxRepository
from custos.store.oversight_repository import AlertRepository, RefusalWindowRepository
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
        self.tokens = TokenRepository(self.conn)
        self.secrets = SecretRepository(self.conn)
        self.enrolments = EnrolmentRepository(self.conn)
        self.email_codes = EmailCodeRepository(self.conn)
        self.flows = FlowRepository(self.conn)
        self.receipts = ReceiptRepository(self.conn)
        self.repudiations = RepudiationRepository(self.conn)
        self.contacts = ContactRepository(self.conn)
        self.outbox = OutboxRepository(self.conn)
        self.authenticators = AuthenticatorRepository(self.conn)
        self.sessions = SessionRepository(self.conn)
        self.console_sessions = ConsoleSessionRepository(self.conn)
        self.operator_credentials = OperatorCredentialRepository(self.conn)
        self.limits = RateLimitRepository(self.conn)
        self.risk = RiskRepository(self.conn)
        self.proofed_attributes = ProofedAttributeRepository(self.conn)
        self.used_jtis = UsedJtiRepository(self.conn)
        self.attestations = AttestationRepository(self.conn)
        self.challenges = ChallengeRepository(self.conn)
        self.sso_attempts = SsoAttemptRepository(self.conn)
        self.ssf_streams = StreamRepository(self.conn)
        self.ssf_outbox = SetOutboxRepository(self.conn)
        self.owner_links = OwnerLinkRepository(self.conn)
        self.refusal_windows = RefusalWindowRepository(self.conn)
        self.alerts = AlertRepository(self.conn)
        self.rotations = RotationRepository(self.conn)
        self.campaigns = CampaignRepository(self.conn)
        self.exceptions = ExceptionRepository(self.conn)
        return self

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
