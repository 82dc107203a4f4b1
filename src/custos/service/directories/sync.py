"""``custos subjects sync``: import identities from the configured targets and
link each subject's accounts by the targets' correlation attributes. Anything
ambiguous is reported as a conflict or an orphan, never guessed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select

from custos.connectors.errors import ConnectorError
from custos.connectors.spi import AccountRecord, ListAccountsOp, fold_dn
from custos.domain.errors import RecoveryBlocked
from custos.domain.events import DomainEvent, EventType
from custos.domain.model import Contact, ContactKind, Subject, SubjectKind
from custos.domain.states import OPEN_FOR_DECISION, CaseState
from custos.policy.engine import select_tier
from custos.service.directories.mapping import Mapped, apply_mapping, resolve_references
from custos.service.holds.case_effects import reconcile_subject
from custos.service.ports import Services
from custos.store.tables import cases, linked_accounts
from custos.store.unit_of_work import UnitOfWork

#: The actor of a sync the worker runs on its schedule (``cli:local`` from the CLI).
SYNC_ACTOR = "system:sync"


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    linked: list[tuple[str, str, str]] = field(default_factory=list)  # subject, target, account
    changed: list[str] = field(default_factory=list)  # "subject: what changed"
    tier_moves: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    unchanged: int = 0
    conflicts: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Account:
    target: str
    record: AccountRecord


def _key(svc: Services, target: str, record: AccountRecord) -> str | None:
    attribute = svc.settings.targets[target].correlation_attribute
    value = record.account_id if attribute is None else record.attributes.get(attribute)
    return value.strip().lower() if value else None


def _collect(
    svc: Services, report: SyncReport, tick: Callable[[str], None]
) -> dict[str, list[_Account]]:
    by_key: dict[str, list[_Account]] = defaultdict(list)
    for name in svc.registry.names():
        if "list_accounts" not in svc.registry.get(name).capabilities:
            continue
        connector = svc.registry.get(name).connector
        assert isinstance(connector, ListAccountsOp)
        tick(f"reading {name}")
        seen: dict[str, AccountRecord] = {}
        try:
            for record in connector.list_accounts():
                key = _key(svc, name, record)
                if key is None:
                    attribute = svc.settings.targets[name].correlation_attribute
                    report.conflicts.append(
                        f"{name}/{record.account_id}: no '{attribute}' to correlate on"
                    )
                    continue
                if key in seen:
                    report.conflicts.append(
                        f"{name}: accounts '{seen[key].account_id}' and '{record.account_id}' "
                        f"share the correlation value '{key}'"
                    )
                    by_key[key] = [a for a in by_key[key] if a.target != name]
                    continue
                seen[key] = record
                by_key[key].append(_Account(name, record))
        except ConnectorError as exc:
            report.unreachable.append(f"{name}: {exc.answer}")
    return by_key


def _new_subject(key: str, accounts: list[_Account]) -> Subject:
    attrs: dict[str, str] = {}
    for account in accounts:
        for name, value in account.record.attributes.items():
            attrs.setdefault(name, value)
    display = attrs.get("displayName") or attrs.get("cn") or attrs.get("name") or key
    mail = attrs.get("mail") or attrs.get("email")
    # A directory's mail attribute is not a confirmed recovery contact: the
    # subject confirms it before any code or link goes there.
    contacts = (Contact(ContactKind.EMAIL, mail, confirmed=False),) if mail else ()
    return Subject(id=key, display_name=display, contacts=contacts)


def sync_subjects(
    svc: Services,
    *,
    dry_run: bool = False,
    tick: Callable[[str], None] = lambda _: None,
    actor: str = "cli:local",
) -> SyncReport:
    """Create, link and map subjects from every target that lists accounts; every
    ledger event names ``actor`` (the worker passes :data:`SYNC_ACTOR`)."""
    report = SyncReport()
    by_key = _collect(svc, report, tick)
    now = svc.clock.now()
    with svc.uow() as uow:
        links = {
            (r.target, r.account_id): r.subject_id
            for r in uow.conn.execute(select(linked_accounts))
        }
        known = {sid.lower(): sid for sid in uow.subjects.list_ids()}
        listed = {(a.target, a.record.account_id) for accounts in by_key.values() for a in accounts}
        reachable = {
            n
            for n in svc.registry.names()
            if not any(u.startswith(f"{n}:") for u in report.unreachable)
        }
        for (target, account), subject_id in sorted(links.items()):
            if (
                target in reachable
                and (target, account) not in listed
                and "list_accounts" in svc.registry.get(target).capabilities
            ):
                report.orphans.append(
                    f"{target}/{account}: linked to '{subject_id}' but missing from the target"
                )
        to_map: list[tuple[str, list[_Account]]] = []
        subject_at: dict[str, str] = {}  # folded DN -> subject id
        for key, accounts in sorted(by_key.items()):
            tick(key)
            owners = {
                links[(a.target, a.record.account_id)]
                for a in accounts
                if (a.target, a.record.account_id) in links
            }
            if key in known:
                owners.add(known[key])
            if len(owners) > 1:
                report.conflicts.append(
                    f"'{key}': accounts belong to several subjects: " + ", ".join(sorted(owners))
                )
                continue
            subject_id = owners.pop() if owners else None
            if subject_id is None:
                sources = [a for a in accounts if svc.settings.targets[a.target].identity_source]
                if not sources:
                    report.orphans.extend(
                        f"{a.target}/{a.record.account_id}: no subject "
                        f"'{key}' and no identity source lists it"
                        for a in accounts
                    )
                    continue
                subject = _new_subject(key, accounts)
                if not dry_run:
                    uow.subjects.add(subject, now=now)
                subject_id = subject.id
                known[key] = subject_id
                report.created.append(subject_id)
            for account in accounts:
                pair = (account.target, account.record.account_id)
                if links.get(pair) == subject_id:
                    report.unchanged += 1
                    continue
                if not dry_run:
                    uow.conn.execute(
                        linked_accounts.insert().values(
                            target=pair[0], account_id=pair[1], subject_id=subject_id
                        )
                    )
                links[pair] = subject_id
                report.linked.append((subject_id, pair[0], pair[1]))
            to_map.append((subject_id, accounts))
            for account in accounts:
                if account.record.dn:
                    subject_at[fold_dn(account.record.dn)] = subject_id
        # Mapped after every account has its subject, so a manager's DN resolves
        # to a subject created later in this same run.
        for subject_id, accounts in to_map:
            mapped = _mapped(
                svc, accounts, lambda dn: subject_at.get(fold_dn(dn)), report, subject_id
            )
            if mapped is not None and not dry_run:
                _apply(svc, uow, subject_id, mapped, report, now, actor)
        if not dry_run:
            uow.ledger.append(
                [
                    DomainEvent(
                        type=EventType.SUBJECTS_SYNCED,
                        occurred_at=now,
                        actor=actor,
                        subject_id=None,
                        case_id=None,
                        data={
                            "created": len(report.created),
                            "linked": len(report.linked),
                            "changed": len(report.changed),
                            "unchanged": report.unchanged,
                            "conflicts": len(report.conflicts),
                            "orphans": len(report.orphans),
                            "unreachable": report.unreachable,
                        },
                    )
                ]
                + [
                    DomainEvent(
                        type=EventType.ACCOUNT_LINKED,
                        occurred_at=now,
                        actor=actor,
                        subject_id=subject,
                        case_id=None,
                        data={"target": target, "account": account},
                    )
                    for subject, target, account in report.linked
                ]
            )
            uow.commit()
    return report


def _mapped(
    svc: Services,
    accounts: list[_Account],
    subject_of: Callable[[str], str | None],
    report: SyncReport,
    subject_id: str,
) -> Mapped | None:
    """The attributes the mapped accounts state: an identity source's first, then
    the others' (a value one source states is not overridden by another). DNs
    (manager, owner, sponsor) are resolved to subjects through ``subject_of``;
    one that resolves to nothing is reported as a conflict."""
    ordered = sorted(
        accounts, key=lambda a: (not svc.settings.targets[a.target].identity_source, a.target)
    )
    merged: Mapped | None = None
    for account in ordered:
        mapping = svc.settings.targets[account.target].mapping
        if mapping is None:
            continue
        found = apply_mapping(account.target, mapping, account.record)
        resolve_references(found, subject_of, report.conflicts, subject_id)
        if merged is None:
            merged = found
            continue
        for key in ("privileged", "kind", "groups", "owner", "owners", "manager", "sponsor"):
            if getattr(merged, key) is None and getattr(found, key) is not None:
                setattr(merged, key, getattr(found, key))
                merged.sources[key] = found.sources[key]
    return merged


def _tier(svc: Services, subject: Subject) -> str | None:
    try:
        return select_tier(svc.policy, subject).name
    except RecoveryBlocked:
        return None


def _apply(
    svc: Services,
    uow: UnitOfWork,
    subject_id: str,
    mapped: Mapped,
    report: SyncReport,
    now: datetime,
    actor: str,
) -> None:
    """Write what the directories state onto the subject; record the change and,
    when it moves the subject to another tier, a tier event. A subject who
    becomes privileged loses its live tokens and its open cases (cancelled: they
    were opened under a weaker tier's requirements)."""
    subject = uow.subjects.get(subject_id)
    if subject is None:
        return
    updated = subject
    wanted: dict[str, object] = {
        "privileged": mapped.privileged,
        "kind": SubjectKind(mapped.kind) if mapped.kind else None,
        "groups": mapped.groups,
        "owner": mapped.owner,
        "owners": tuple(mapped.owners or ()) if "owners" in mapped.sources else None,
        "manager": mapped.manager,
        "sponsor": mapped.sponsor,
        "contract_end": mapped.contract_end,
        "employee_id": mapped.employee_id,
    }
    changes: dict[str, object] = {}
    for key, value in wanted.items():
        if key not in mapped.sources and value is None:
            continue  # not mapped: keep what the subject has
        if getattr(subject, key) != value:
            changes[key] = value
    contacts = list(subject.contacts)
    # Subject.contacts holds the confirmed ones only: compare with every current
    # row, so an address waiting for confirmation is not stated again each sync.
    stored = {(c.kind, c.address.lower()) for c in uow.contacts.current(subject_id)}
    for kind, address in ((ContactKind.EMAIL, mapped.email), (ContactKind.SMS, mapped.phone)):
        if address and (kind, address.lower()) not in stored:
            # Unconfirmed until the subject confirms it.
            contacts.append(Contact(kind, address, confirmed=False))
            stored.add((kind, address.lower()))
    sources = {**subject.attribute_sources, **mapped.sources}
    if (
        not changes
        and sources == subject.attribute_sources
        and len(contacts) == len(subject.contacts)
    ):
        return
    updated = replace(subject, contacts=tuple(contacts), attribute_sources=sources)
    for key, value in changes.items():
        setattr(updated, key, value)
    uow.subjects.update(updated, now=now)
    if changes:
        report.changed.append(f"{subject_id}: " + ", ".join(sorted(changes)))
        _subject_event(
            uow,
            EventType.SUBJECT_ATTRIBUTES_CHANGED,
            subject_id,
            now,
            actor,
            {
                "changed": sorted(changes),
                "because": {k: sources.get(k, "") for k in sorted(changes)},
            },
        )
    if "groups" in changes:
        # Group holds follow membership: read which stand on the new groups.
        fresh = uow.subjects.get(subject_id)
        assert fresh is not None  # updated just above
        updated = fresh
    before, after = _tier(svc, subject), _tier(svc, updated)
    if before != after:
        report.tier_moves.append((subject_id, before, after))
        _subject_event(
            uow,
            EventType.SUBJECT_TIER_CHANGED,
            subject_id,
            now,
            actor,
            {"from": before, "to": after, "because": sources},
        )
    if updated.privileged and not subject.privileged:
        _contain(uow, subject_id, now, actor)
    if "groups" in changes:
        # A hold on a group just joined applies now; one on a group left, no more.
        reconcile_subject(uow, updated, now=now, actor=actor)


def _subject_event(
    uow: UnitOfWork,
    type_: EventType,
    subject_id: str,
    now: datetime,
    actor: str,
    data: dict[str, object],
) -> None:
    """Append one event about ``subject_id`` in the caller's transaction."""
    uow.ledger.append(
        [
            DomainEvent(
                type=type_,
                occurred_at=now,
                actor=actor,
                subject_id=subject_id,
                case_id=None,
                data=data,
            )
        ]
    )


def _contain(uow: UnitOfWork, subject_id: str, now: datetime, actor: str) -> None:
    """A subject who became privileged: void its live tokens (one
    ``credential:token:voided`` event with the count) and cancel its cases still
    open for decision, wiping their sealed secrets, so none completes under the
    weaker tier."""
    reason = "subject became privileged: recover again under the privileged tier"
    voided = uow.tokens.void_live(subject_id, now=now, reason=reason)
    if voided:
        _subject_event(
            uow,
            EventType.TOKENS_VOIDED,
            subject_id,
            now,
            actor,
            {"voided": voided, "reason": reason},
        )
    open_ids = uow.conn.execute(
        select(cases.c.id).where(
            cases.c.subject_id == subject_id,
            cases.c.state.in_([str(s) for s in OPEN_FOR_DECISION | {CaseState.OPENED}]),
        )
    ).scalars()
    for case_id in sorted(open_ids):
        case = uow.cases.get(case_id, for_update=True)
        case.move(CaseState.CANCELLED, at=now, actor=actor, reason=reason)
        uow.secrets.wipe(case_id)
        uow.cases.save(case)
