"""Seeds a small organisation: subjects across every tier of the default policy,
operators for every role, accounts in the built-in directory, enrolled TOTP and
saved recovery codes for some subjects."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from custos.connectors.builtin import BuiltinDirectory
from custos.credentials import seal_contexts
from custos.demo.soft_authenticator import SoftAuthenticator, b64
from custos.domain.enrolment import AuthenticatorKind
from custos.domain.model import (
    Contact,
    ContactKind,
    Employment,
    Hold,
    LinkedAccount,
    Role,
    Subject,
    SubjectKind,
)
from custos.proofing import recovery_code, totp
from custos.service.ceremonies.webauthn_ceremonies import user_handle
from custos.service.holds.commands import place_hold
from custos.service.ports import Services
from custos.service.recovery.operators import add_operator
from custos.store.unit_of_work import UnitOfWork

DIRECTORY = "directory"
DOMAIN = "example.org"
SEED_ACTOR = "system:demo-seed"

STAFF = [
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "yolanda",
]
CONTRACTORS = ["kim", "lars", "mona", "nils"]
ADMINS = ["root.ops", "dba.admin", "net.admin"]

OPERATORS: list[tuple[str, list[Role], list[str], list[str]]] = [
    ("helpdesk.hana", [Role.REQUESTER], ["*"], []),
    ("helpdesk.hugo", [Role.REQUESTER, Role.EXECUTOR], ["staff", "contractors"], []),
    ("approver.ada", [Role.APPROVER], ["*"], ["security-approvers", "service-owners"]),
    ("approver.grace", [Role.APPROVER], ["*"], ["security-approvers"]),
    ("approver.linus", [Role.APPROVER], ["staff", "contractors"], []),
    ("executor.edsger", [Role.EXECUTOR], ["*"], []),
    ("auditor.barbara", [Role.AUDITOR], ["*"], []),
    ("admin.margaret", [Role.ADMIN], ["*"], []),
]


@dataclass
class SeedResult:
    subjects: int = 0
    operator_tokens: dict[str, str] = field(default_factory=dict)
    #: subject id -> TOTP secret; the demo's stand-in for each subject's phone
    totp_secrets: dict[str, str] = field(default_factory=dict)
    recovery_codes: dict[str, list[str]] = field(default_factory=dict)
    #: subject id -> software security key (custos.demo.soft_authenticator), privileged only
    webauthn_keys: dict[str, dict[str, str]] = field(default_factory=dict)


def _human(name: str, **kw: object) -> Subject:
    display = " ".join(part.capitalize() for part in name.split("."))
    return Subject(
        id=name,
        display_name=display,
        contacts=(
            Contact(ContactKind.EMAIL, f"{name}@{DOMAIN}", True),
            Contact(ContactKind.EMAIL, f"{name}.home@mail.{DOMAIN}", True),
        ),
        accounts=(LinkedAccount(DIRECTORY, name),),
        time_zone="Europe/Berlin",
        **kw,  # type: ignore[arg-type]
    )


def organisation() -> list[Subject]:
    subjects = [_human(n, groups=frozenset({"staff"}), manager="grace") for n in STAFF]
    subjects += [
        _human(
            n, employment=Employment.CONTRACTOR, groups=frozenset({"contractors"}), sponsor="alice"
        )
        for n in CONTRACTORS
    ]
    subjects += [
        _human(n, privileged=True, groups=frozenset({"it-admins"}), mfa_bound=True) for n in ADMINS
    ]
    subjects += [
        _human(
            "svc.backup",
            kind=SubjectKind.SERVICE,
            employment=Employment.NONE,
            groups=frozenset({"services"}),
            owner="alice",
        ),
        _human(
            "svc.reports",
            kind=SubjectKind.SERVICE,
            employment=Employment.NONE,
            groups=frozenset({"services"}),
            owner="bob",
        ),
        _human(
            "shared.frontdesk",
            kind=SubjectKind.SHARED,
            employment=Employment.NONE,
            groups=frozenset({"staff"}),
        ),
        _human("quinn", groups=frozenset({"staff"})),
        _human("uma", groups=frozenset({"staff"})),
    ]
    return subjects


#: Holds the demo starts with (subject, kind, reason, ticket): records like any
#: other, set by the seed, so any security approver may lift them.
HOLDS: list[tuple[str, Hold, str, str]] = [
    ("quinn", Hold.LEGAL_HOLD, "litigation hold on quinn's mailbox and accounts", "LEGAL-2041"),
    ("uma", Hold.INCIDENT_FREEZE, "account under investigation after a phishing report", "IR-77"),
]


def _enrol_key(svc: Services, uow: UnitOfWork, subject: Subject, now: datetime) -> dict[str, str]:
    """Bind a software security key to ``subject`` as a completed registration
    would; returns the key for the demo's secrets file."""
    key = SoftAuthenticator(user_handle=user_handle(svc, subject.id))
    bound = uow.authenticators.bind(
        subject.id,
        AuthenticatorKind.WEBAUTHN,
        label="demo security key",
        by=SEED_ACTOR,
        now=now,
    )
    uow.authenticators.add_credential(
        bound.id,
        subject.id,
        credential_id=b64(key.credential_id),
        public_key=key.cose_public_key(),
        sign_count=0,
        user_verified=True,
    )
    return key.to_json()


def seed(svc: Services) -> SeedResult:
    """Seed an empty database; returns the secrets that only the demo may print."""
    result = SeedResult()
    directory = BuiltinDirectory(DIRECTORY, svc.engine)
    now = svc.clock.now()
    subjects = organisation()
    with svc.uow() as uow:
        for index, subject in enumerate(subjects):
            if index % 3 == 0 or subject.privileged:
                subject.mfa_bound = True
            uow.subjects.add(subject, now=now)
            if subject.mfa_bound:
                secret = totp.new_totp_secret()
                uow.enrolments.set_totp(
                    subject.id,
                    svc.sealer.seal(secret, aad=seal_contexts.subject_totp(subject.id)),
                    now=now,
                )
                result.totp_secrets[subject.id] = secret
            if subject.privileged:  # the privileged tier needs a phishing-resistant factor
                result.webauthn_keys[subject.id] = _enrol_key(svc, uow, subject, now)
            if index % 2 == 0 or subject.privileged:
                codes = recovery_code.generate_codes(5)
                for code in codes:
                    uow.enrolments.add_recovery_code(subject.id, code.lookup_id, code.hash, now=now)
                result.recovery_codes[subject.id] = [c.plain for c in codes]
        for subject_id, kind, reason, ticket in HOLDS:
            place_hold(
                uow,
                kind=str(kind),
                subject_id=subject_id,
                group=None,
                reason=reason,
                ticket=ticket,
                set_by=SEED_ACTOR,
                set_by_person=None,
                now=now,
            )
        uow.commit()
    for subject in subjects:
        directory.create_account(subject.id, secrets.token_urlsafe(24))
        directory.open_session(subject.id)
    result.subjects = len(subjects)
    for name, roles, scope, groups in OPERATORS:
        _, token = add_operator(
            svc, name=name, roles=roles, scope=scope, groups=groups, actor=SEED_ACTOR
        )
        result.operator_tokens[name] = token
    return result
