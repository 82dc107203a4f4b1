"""Apply a target's attribute mapping to one listed account: which subject
attributes the directory states, and which directory attribute said so (so
``subjects show`` can explain a tier). Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from custos.config import AttributeMapping
from custos.connectors.spi import AccountRecord

#: AD accountExpires counts 100 ns intervals since 1601-01-01; these mean "never".
_AD_NEVER = {0, 9223372036854775807}
_AD_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


@dataclass
class Mapped:
    """What one account says about its subject; None: not stated by the mapping."""

    privileged: bool | None = None
    kind: str | None = None
    groups: frozenset[str] | None = None
    owner: str | None = None
    #: Every owner the owner attribute states (a multi-valued ``owner`` or
    #: ``seeAlso``), ``owner`` first; None: not stated by the mapping.
    owners: tuple[str, ...] | None = None
    manager: str | None = None
    sponsor: str | None = None
    contract_end: datetime | None = None
    email: str | None = None
    phone: str | None = None
    employee_id: str | None = None
    #: subject attribute -> "target: what set it"
    sources: dict[str, str] = field(default_factory=dict)
    #: manager/sponsor -> the DN the directory states, for the sync to
    #: resolve to a subject (:func:`resolve_references`).
    references: dict[str, str] = field(default_factory=dict)
    #: Every owner DN the directory states, resolved like ``references``.
    owner_references: tuple[str, ...] = ()


def is_dn(value: str) -> bool:
    """``cn=x,ou=y`` is a DN; ``ana`` or ``ana@example.org`` is not."""
    first = value.split(",", 1)[0]
    return "=" in first and "," in value


def resolve_references(
    mapped: Mapped, subject_of: Callable[[str], str | None], conflicts: list[str], subject_id: str
) -> None:
    """Replace each DN in ``mapped.references`` by the subject of the synced account
    with that DN (``subject_of``). One that names no synced account is a conflict:
    the attribute is dropped from ``mapped`` so the subject keeps its value."""
    for key, dn in sorted(mapped.references.items()):
        found = subject_of(dn)
        if found is None:
            conflicts.append(
                f"{subject_id}: {key} '{dn}' ({mapped.sources[key]}) is no account "
                "this sync linked to a subject: the subject keeps its current value"
            )
            setattr(mapped, key, None)
            del mapped.sources[key]
        else:
            setattr(mapped, key, found)
    mapped.references.clear()
    _resolve_owners(mapped, subject_of, conflicts, subject_id)


def _resolve_owners(
    mapped: Mapped, subject_of: Callable[[str], str | None], conflicts: list[str], subject_id: str
) -> None:
    """Resolve every owner DN; one that names no synced account is a conflict and
    is left out of the owners (the others stay). When none is left the owners
    are dropped from ``mapped`` and the subject keeps its current list."""
    if not mapped.owner_references:
        return
    resolved = list(mapped.owners or ())
    for dn in mapped.owner_references:
        found = subject_of(dn)
        if found is None:
            conflicts.append(
                f"{subject_id}: owner '{dn}' ({mapped.sources['owners']}) is no account "
                "this sync linked to a subject: it is left out of the owners"
            )
        elif found not in resolved:
            resolved.append(found)
    mapped.owner_references = ()
    if resolved:
        mapped.owners, mapped.owner = tuple(resolved), resolved[0]
    else:
        mapped.owners = mapped.owner = None
        del mapped.sources["owners"], mapped.sources["owner"]


def rdn_value(value: str) -> str:
    """``CN=Domain Admins,CN=Users,DC=x`` -> ``Domain Admins``; a value that is not
    a DN is returned as it is."""
    first = value.split(",", 1)[0]
    if "=" in first and "," in value:
        return first.split("=", 1)[1].strip()
    return value.strip()


def parse_contract_end(value: str) -> datetime | None:
    """AD ``accountExpires`` (an integer) or an LDAP GeneralizedTime
    (``20271231000000Z``). None for "never" and for values that parse as neither."""
    text = value.strip()
    if text.isdigit() and len(text) != 14 and not text.endswith("Z"):
        ticks = int(text)
        if ticks in _AD_NEVER:
            return None
        return _AD_EPOCH + timedelta(microseconds=ticks // 10)
    for pattern in ("%Y%m%d%H%M%SZ", "%Y%m%d%H%M%S.%fZ", "%Y%m%d%H%M%S"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def apply_mapping(target: str, mapping: AttributeMapping, record: AccountRecord) -> Mapped:
    """The subject attributes ``mapping`` reads from ``record`` (listed by ``target``)."""
    out = Mapped()

    def every(name: str) -> tuple[str, ...]:
        if name in record.values:
            return record.values[name]
        single = record.attributes.get(name)
        return (single,) if single else ()

    def one(name: str | None) -> str | None:
        if not name:
            return None
        found = every(name)
        return found[0] if found else None

    if mapping.groups_key:
        out.groups = frozenset(rdn_value(v) for v in every(mapping.groups_key))
        out.sources["groups"] = (
            f"{target}: {mapping.groups_attribute}"
            if mapping.groups_attribute
            else f"{target}: groups under {mapping.group_search_base}"
        )
    if mapping.privileged_groups or mapping.privileged_attributes or mapping.privileged_filters:
        out.privileged = False
        out.sources["privileged"] = (
            f"{target}: in none of the privileged groups, attributes or filters"
        )
        wanted = {g.lower(): g for g in mapping.privileged_groups}
        held = sorted(g for g in out.groups or () if g.lower() in wanted)
        if held:
            out.privileged = True
            out.sources["privileged"] = f"{target}: member of {', '.join(held)}"
        else:
            for name, value in sorted(mapping.privileged_attributes.items()):
                if value in every(name):
                    out.privileged = True
                    out.sources["privileged"] = f"{target}: {name}={value}"
                    break
            for text in mapping.privileged_filters:
                if out.privileged:
                    break
                if text in record.matched_filters:
                    out.privileged = True
                    out.sources["privileged"] = f"{target}: matches {text}"
    classes = {c.lower() for c in every("objectClass")}
    for object_class, kind in sorted(mapping.kind_object_classes.items()):
        if object_class.lower() in classes:
            out.kind = kind
            out.sources["kind"] = f"{target}: objectClass {object_class}"
            break
    for text, kind in sorted(mapping.kind_filters.items()):
        if out.kind is None and text in record.matched_filters:
            out.kind = kind
            out.sources["kind"] = f"{target}: matches {text}"
    if out.kind is None:
        for fragment, kind in sorted(mapping.kind_dn_contains.items()):
            if fragment.lower() in record.dn.lower():
                out.kind = kind
                out.sources["kind"] = f"{target}: DN contains {fragment}"
                break
    for key, attribute in (
        ("manager", mapping.manager_attribute),
        ("sponsor", mapping.sponsor_attribute),
    ):
        stated = one(attribute)
        if attribute:
            out.sources[key] = f"{target}: {attribute}"
            if stated and is_dn(stated):
                out.references[key] = stated
            else:
                setattr(out, key, stated.strip() if stated else None)
    if mapping.owner_attribute:
        _map_owners(out, mapping.owner_attribute, every(mapping.owner_attribute), target)
    if mapping.contract_end_attribute:
        raw = one(mapping.contract_end_attribute)
        out.contract_end = parse_contract_end(raw) if raw else None
        out.sources["contract_end"] = f"{target}: {mapping.contract_end_attribute}"
    out.email = one(mapping.email_attribute)
    out.phone = one(mapping.phone_attribute)
    out.employee_id = one(mapping.employee_id_attribute)
    if mapping.employee_id_attribute:
        out.sources["employee_id"] = f"{target}: {mapping.employee_id_attribute}"
    return out


def _map_owners(out: Mapped, attribute: str, values: tuple[str, ...], target: str) -> None:
    """Every value of the owner attribute (``owner`` and ``seeAlso`` may hold
    several): plain ids as they are, DNs to resolve (:func:`resolve_references`)."""
    out.sources["owner"] = out.sources["owners"] = f"{target}: {attribute}"
    plain = tuple(dict.fromkeys(v.strip() for v in values if v.strip() and not is_dn(v)))
    out.owner_references = tuple(dict.fromkeys(v for v in values if is_dn(v)))
    out.owners = plain or None
    out.owner = plain[0] if plain else None
