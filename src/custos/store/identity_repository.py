"""Subjects (with their linked accounts) and operators."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, or_, select

from custos.domain.model import LinkedAccount, Operator, Role, Subject
from custos.store.bulk import ByIds, chunks
from custos.store.contact_repository import ContactRepository
from custos.store.hold_repository import HoldRepository
from custos.store.mapping import (
    aware,
    maybe_aware,
    operator_from_row,
    subject_from_row,
    subject_to_row,
)
from custos.store.tables import linked_accounts, operators, subjects


@dataclass(frozen=True, slots=True)
class SubjectBrief:
    """What a list of subjects shows (and scope is decided on): no contact, no account."""

    id: str
    display_name: str
    kind: str
    employment: str
    privileged: bool
    groups: frozenset[str]
    #: Kinds of the holds standing on the subject or its groups.
    holds: frozenset[str]


#: The columns a Subject is read from: not ``holds`` (the previous release's
#: copy; holds are records of their own) nor ``created_at``.
SUBJECT_COLUMNS = tuple(c for c in subjects.columns if c.key not in ("holds", "created_at"))

#: The linked accounts of a chunk of subjects (``get_many``).
_ACCOUNTS = ByIds(
    linked_accounts.c.subject_id,
    lambda in_: (
        select(linked_accounts.c.subject_id, linked_accounts.c.target, linked_accounts.c.account_id)
        .where(in_)
        .order_by(linked_accounts.c.target, linked_accounts.c.account_id)
    ),
)
#: A chunk of subjects by id (``get_many``).
_SUBJECTS = ByIds(subjects.c.id, lambda in_: select(*SUBJECT_COLUMNS).where(in_))


def _system_now() -> datetime:
    return datetime.now(UTC)


class SubjectRepository:
    """Subjects with their accounts and confirmed contacts. ``Subject.holds``
    is read from the hold records standing at ``now()`` (the unit of work's
    clock): on the subject, or on a group it belongs to at that moment."""

    def __init__(self, conn: Connection, now: Callable[[], datetime] = _system_now) -> None:
        self._conn = conn
        self._now = now
        self._holds = HoldRepository(conn)

    def add(self, subject: Subject, *, now: datetime) -> None:
        """Store a new subject with its contacts and accounts. ``holds`` is not
        stored: holds are records of their own (``service/holds``)."""
        self._conn.execute(subjects.insert().values(**subject_to_row(subject), created_at=now))
        ContactRepository(self._conn).store_missing(subject.id, subject.contacts, now=now)
        for account in subject.accounts:
            self._conn.execute(
                linked_accounts.insert().values(
                    target=account.target, account_id=account.account_id, subject_id=subject.id
                )
            )

    def update(self, subject: Subject, *, now: datetime | None = None) -> None:
        """Write the subject's attributes; contacts it holds that are not stored yet
        are added (removing one is ContactRepository.remove, with its notice)."""
        row = subject_to_row(subject)
        row.pop("id")
        self._conn.execute(subjects.update().where(subjects.c.id == subject.id).values(**row))
        ContactRepository(self._conn).store_missing(
            subject.id, subject.contacts, now=now or datetime.now(UTC)
        )

    def get(self, subject_id: str) -> Subject | None:
        row = self._conn.execute(
            select(*SUBJECT_COLUMNS).where(subjects.c.id == subject_id)
        ).first()
        if row is None:
            return None
        accounts = [
            LinkedAccount(target=a.target, account_id=a.account_id)
            for a in self._conn.execute(
                select(linked_accounts)
                .where(linked_accounts.c.subject_id == subject_id)
                .order_by(linked_accounts.c.target, linked_accounts.c.account_id)
            )
        ]
        held = self._holds.standing_kinds({row.id: frozenset(row.groups)}, self._now())
        return subject_from_row(
            row,
            accounts,
            ContactRepository(self._conn).confirmed(subject_id),
            held.get(row.id, frozenset()),
        )

    def get_many(self, subject_ids: Iterable[str]) -> dict[str, Subject]:
        """``get`` for several subjects in three queries per 500 ids."""
        ids = set(subject_ids)
        found: dict[str, Subject] = {}
        contacts = ContactRepository(self._conn).confirmed_many(ids)
        for chunk in chunks(ids):
            accounts: dict[str, list[LinkedAccount]] = {}
            for result in _ACCOUNTS.execute(self._conn, chunk):
                for a in result.all():
                    accounts.setdefault(a.subject_id, []).append(
                        LinkedAccount(target=a.target, account_id=a.account_id)
                    )
            rows = [row for result in _SUBJECTS.execute(self._conn, chunk) for row in result.all()]
            held = self._holds.standing_kinds(
                {row.id: frozenset(row.groups) for row in rows}, self._now()
            )
            for row in rows:
                found[row.id] = subject_from_row(
                    row,
                    accounts.get(row.id, []),
                    contacts.get(row.id, ()),
                    held.get(row.id, frozenset()),
                )
        return found

    def find(self, identifier: str) -> Subject | None:
        """A subject by id or by the account id of one of its linked accounts."""
        subject = self.get(identifier)
        if subject is not None:
            return subject
        owner = self._conn.execute(
            select(linked_accounts.c.subject_id).where(linked_accounts.c.account_id == identifier)
        ).first()
        return None if owner is None else self.get(owner.subject_id)

    def search(
        self, text: str, *, after: str | None = None, limit: int = 500
    ) -> list[SubjectBrief]:
        """Subjects whose id, display name, employee id or a linked account id
        contains ``text`` (case-insensitive; empty matches all), by id, after the
        id ``after`` (keyset paging)."""
        query = select(
            subjects.c.id,
            subjects.c.display_name,
            subjects.c.kind,
            subjects.c.employment,
            subjects.c.privileged,
            subjects.c.groups,
        )
        needle = text.strip().lower()
        if needle:
            accounts = select(linked_accounts.c.subject_id).where(
                func.lower(linked_accounts.c.account_id).contains(needle, autoescape=True)
            )
            query = query.where(
                or_(
                    func.lower(subjects.c.id).contains(needle, autoescape=True),
                    func.lower(subjects.c.display_name).contains(needle, autoescape=True),
                    func.lower(subjects.c.employee_id).contains(needle, autoescape=True),
                    subjects.c.id.in_(accounts),
                )
            )
        if after is not None:
            query = query.where(subjects.c.id > after)
        rows = list(self._conn.execute(query.order_by(subjects.c.id).limit(limit)))
        held = self._holds.standing_kinds({r.id: frozenset(r.groups) for r in rows}, self._now())
        return [
            SubjectBrief(
                id=r.id,
                display_name=r.display_name,
                kind=r.kind,
                employment=r.employment,
                privileged=bool(r.privileged),
                groups=frozenset(r.groups),
                holds=held.get(r.id, frozenset()),
            )
            for r in rows
        ]

    def groups_of(self, subject_ids: Iterable[str]) -> dict[str, frozenset[str]]:
        """The groups of each known subject among ``subject_ids``."""
        found: dict[str, frozenset[str]] = {}
        for chunk in chunks(subject_ids):
            rows = self._conn.execute(
                select(subjects.c.id, subjects.c.groups).where(subjects.c.id.in_(chunk))
            )
            found.update((r.id, frozenset(r.groups)) for r in rows)
        return found

    def list_ids(self) -> list[str]:
        return list(self._conn.execute(select(subjects.c.id).order_by(subjects.c.id)).scalars())

    def set_bind_due(self, subject_id: str, due: bool) -> bool:
        """Set or clear the R-45 flag (the next sign-in must bind a
        phishing-resistant authenticator); whether it changed."""
        result = self._conn.execute(
            subjects.update()
            .where(subjects.c.id == subject_id, subjects.c.phishing_resistant_bind_due != due)
            .values(phishing_resistant_bind_due=due)
        )
        return bool(result.rowcount)

    def set_bind_due_many(self, subject_ids: Iterable[str], due: bool) -> set[str]:
        """``set_bind_due`` for many subjects; those it changed."""
        changed: set[str] = set()
        for chunk in chunks(subject_ids):
            changed.update(
                self._conn.execute(
                    subjects.update()
                    .where(subjects.c.id.in_(chunk), subjects.c.phishing_resistant_bind_due != due)
                    .values(phishing_resistant_bind_due=due)
                    .returning(subjects.c.id)
                ).scalars()
            )
        return changed

    def count(self) -> int:
        return int(self._conn.execute(select(func.count()).select_from(subjects)).scalar_one())


class OperatorRepository:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(
        self,
        operator: Operator,
        *,
        token_digest: str | None,
        now: datetime,
        token_expires_at: datetime | None = None,
    ) -> None:
        self._conn.execute(
            operators.insert().values(
                id=operator.id,
                name=operator.name,
                person=operator.person,
                roles=sorted(str(r) for r in operator.roles),
                scope=sorted(operator.scope),
                groups=sorted(operator.groups),
                active=operator.active,
                token_digest=token_digest,
                token_expires_at=token_expires_at,
                created_at=now,
            )
        )

    def set_token_digest(
        self, name: str, digest: str | None, *, expires_at: datetime | None = None
    ) -> bool:
        """Replace the API token of operator ``name`` (None: no token at all);
        whether the operator exists."""
        result = self._conn.execute(
            operators.update()
            .where(operators.c.name == name)
            .values(token_digest=digest, token_expires_at=expires_at)
        )
        return int(result.rowcount) == 1

    def by_token_digest(self, digest: str) -> tuple[Operator, str, datetime | None] | None:
        """The operator holding the token with this digest, the stored digest
        (for a constant-time comparison by the caller) and when the token
        expires (None: never), or None."""
        row = self._conn.execute(
            select(operators).where(operators.c.token_digest == digest)
        ).first()
        if row is None:
            return None
        return operator_from_row(row), row.token_digest, maybe_aware(row.token_expires_at)

    def token_of(self, operator_id: str) -> tuple[bool, datetime | None, datetime] | None:
        """Whether the operator has an API token, when it expires, and when the
        operator was created; None for an unknown operator."""
        row = self._conn.execute(
            select(
                operators.c.token_digest, operators.c.token_expires_at, operators.c.created_at
            ).where(operators.c.id == operator_id)
        ).first()
        if row is None:
            return None
        return (
            row.token_digest is not None,
            maybe_aware(row.token_expires_at),
            aware(row.created_at),
        )

    def set_active(self, operator_id: str, active: bool) -> bool:
        """Enable or disable the operator; whether it changed."""
        result = self._conn.execute(
            operators.update()
            .where(operators.c.id == operator_id, operators.c.active != active)
            .values(active=active)
        )
        return bool(result.rowcount)

    def get(self, operator_id: str) -> Operator | None:
        row = self._conn.execute(select(operators).where(operators.c.id == operator_id)).first()
        return None if row is None else operator_from_row(row)

    def by_name(self, name: str) -> Operator | None:
        row = self._conn.execute(select(operators).where(operators.c.name == name)).first()
        return None if row is None else operator_from_row(row)

    def set_access(
        self,
        operator_id: str,
        *,
        roles: frozenset[Role],
        scope: frozenset[str],
        groups: frozenset[str],
    ) -> None:
        """Replace the operator's roles, scope and group memberships."""
        self._conn.execute(
            operators.update()
            .where(operators.c.id == operator_id)
            .values(
                roles=sorted(str(r) for r in roles),
                scope=sorted(scope),
                groups=sorted(groups),
            )
        )

    def exists(self, name: str, person: str) -> bool:
        row = self._conn.execute(
            select(operators.c.id).where(
                or_(operators.c.name == name, operators.c.person == person)
            )
        ).first()
        return row is not None

    def all(self) -> list[Operator]:
        return [
            operator_from_row(r)
            for r in self._conn.execute(select(operators).order_by(operators.c.name))
        ]
