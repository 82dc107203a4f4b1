"""Who takes part in a recovery: subjects (people and non-human identities),
their contacts and linked accounts, operators with roles and scope, and the
small vocabularies (kind, employment, hold, channel, role, credential action)
that tiers match on. Plain data; nothing here imports I/O or the case model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class SubjectKind(StrEnum):
    HUMAN = "human"
    SERVICE = "service"
    SHARED = "shared"


class Employment(StrEnum):
    EMPLOYEE = "employee"
    CONTRACTOR = "contractor"
    NONE = "none"


class Hold(StrEnum):
    """The hold kinds every policy knows (``domain/holds.py``); a policy may add
    kinds of its own, so a subject's holds are plain strings."""

    LEGAL_HOLD = "legal_hold"
    INCIDENT_FREEZE = "incident_freeze"
    FRAUD = "fraud"


class Channel(StrEnum):
    SELF_SERVICE = "self_service"
    HELPDESK = "helpdesk"
    OWNER_REQUEST = "owner_request"
    CAMPAIGN = "campaign"


class Role(StrEnum):
    REQUESTER = "requester"
    APPROVER = "approver"
    EXECUTOR = "executor"
    AUDITOR = "auditor"
    ADMIN = "admin"


class CredentialAction(StrEnum):
    """What happens to the credential once a case is approved."""

    RESET_TOKEN = "reset_token"  # the subject receives a one-time token and chooses the password
    TEMP_PASSWORD = "temp_password"
    #: A reset and more: every session ended where a target can, every outstanding
    #: token voided, every authenticator removed (in Custos and on targets that
    #: can), and re-enrolment required before the next sign-in.
    REISSUE = "reissue"
    #: Identity re-proofing through the configured IDV provider before any other
    #: proof counts; then a reset as ``reset_token``.
    REPROOF = "reproof"
    #: Recovery is refused with instructions: the tier names whom to contact.
    REFUSE = "refuse"
    BLOCK = "block"  # the tier refuses recovery outright


#: Actions that open no recovery at all: the case is refused as it opens.
REFUSING_ACTIONS: frozenset[CredentialAction] = frozenset(
    {CredentialAction.BLOCK, CredentialAction.REFUSE}
)


class ContactKind(StrEnum):
    EMAIL = "email"
    SMS = "sms"


@dataclass(frozen=True, slots=True)
class Contact:
    kind: ContactKind
    address: str
    confirmed: bool


@dataclass(frozen=True, slots=True)
class LinkedAccount:
    """One account of a subject in one connected system (a *target*)."""

    target: str
    account_id: str


@dataclass(slots=True)
class Subject:
    """An identity that can be recovered: a person or a non-human identity."""

    id: str
    display_name: str
    kind: SubjectKind = SubjectKind.HUMAN
    employment: Employment = Employment.EMPLOYEE
    privileged: bool = False
    groups: frozenset[str] = frozenset()
    manager: str | None = None
    sponsor: str | None = None
    owner: str | None = None
    #: Every owner of a shared or service account (subject ids); only an owner
    #: may request a shared account's recovery, and every owner is told.
    owners: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = ()
    #: The kinds of the holds standing on the subject or on one of its groups
    #: (``domain/holds.py``), as the store read them at the unit of work's time.
    #: Holds are records of their own: set and lift them through
    #: ``service/holds``, never through this field.
    holds: frozenset[str] = frozenset()
    accounts: tuple[LinkedAccount, ...] = ()
    mfa_bound: bool = False
    time_zone: str = "UTC"
    #: The identity assurance level the subject was proofed at (1..3); re-proofing
    #: must reach it (R-4).
    ial: int = 1
    #: When the subject's contract or account ends, as the directory states it.
    contract_end: datetime | None = None
    #: The HR employee id the directories carry (correlation, never a secret).
    employee_id: str | None = None
    #: Which directory attribute set each mapped subject attribute, e.g.
    #: ``{"privileged": "ad: member of Domain Admins"}`` (``subjects show``).
    attribute_sources: dict[str, str] = field(default_factory=dict)
    #: R-45: after a help-desk (agent-assisted) recovery, the next sign-in must
    #: bind a phishing-resistant authenticator (or the subject re-proofs). Set
    #: and cleared through SubjectRepository.set_bind_due, never by ``update``.
    phishing_resistant_bind_due: bool = False

    def confirmed_contacts(self, kind: ContactKind | None = None) -> list[Contact]:
        """Contacts whose confirmation came back (R-14), optionally of one kind."""
        return [c for c in self.contacts if c.confirmed and (kind is None or c.kind == kind)]


@dataclass(frozen=True, slots=True)
class Operator:
    """Someone who acts on cases. ``person`` identifies the human behind the
    operator record: separation of duties compares persons, not records."""

    id: str
    name: str
    person: str
    roles: frozenset[Role]
    scope: frozenset[str]
    groups: frozenset[str] = frozenset()  # memberships, e.g. 'security-approvers'
    active: bool = True

    @property
    def actor(self) -> str:
        return f"operator:{self.id}"

    def has_role(self, role: Role) -> bool:
        return self.active and (role in self.roles or Role.ADMIN in self.roles)

    def covers(self, subject: Subject) -> bool:
        """Whether ``subject`` lies within this operator's scope (groups; ``*`` is all)."""
        return self.covers_groups(subject.groups)

    def covers_groups(self, groups: frozenset[str]) -> bool:
        """Whether a subject in ``groups`` lies within this operator's scope."""
        return "*" in self.scope or bool(self.scope & groups)
