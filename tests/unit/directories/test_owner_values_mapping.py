"""Every value of the owner attribute becomes one of a subject's owners (issue
13, docs/shared-accounts.md): plain ids as they are, DNs resolved to synced
subjects, a DN of no synced account reported and left out. Pure mapping."""

from __future__ import annotations

from custos.config import AttributeMapping
from custos.connectors.spi import AccountRecord
from custos.service.directories.mapping import apply_mapping, resolve_references

ANA = "uid=ana,ou=people,dc=example,dc=org"
BEN = "uid=ben,ou=people,dc=example,dc=org"
GONE = "uid=gone,ou=people,dc=example,dc=org"
SUBJECTS = {ANA.lower(): "ana", BEN.lower(): "ben"}


def _mapped(values: tuple[str, ...]) -> tuple[object, object, list[str]]:
    record = AccountRecord(
        account_id="frontdesk", attributes={}, values={"managedBy": values}, dn="uid=frontdesk"
    )
    mapped = apply_mapping("ad", AttributeMapping(owner_attribute="managedBy"), record)
    conflicts: list[str] = []
    resolve_references(mapped, lambda dn: SUBJECTS.get(dn.lower()), conflicts, "frontdesk")
    return mapped.owners, mapped.owner, conflicts


def test_every_owner_dn_resolves_in_the_directory_order_when_several_are_stated() -> None:
    owners, owner, conflicts = _mapped((BEN, ANA))
    assert owners == ("ben", "ana") and owner == "ben" and conflicts == []


def test_an_owner_dn_of_no_synced_account_is_left_out_and_reported() -> None:
    owners, owner, conflicts = _mapped((GONE, ANA))
    assert owners == ("ana",) and owner == "ana"
    assert conflicts == [
        f"frontdesk: owner '{GONE}' (ad: managedBy) is no account this sync linked to "
        "a subject: it is left out of the owners"
    ]


def test_owners_are_not_stated_when_no_value_resolves() -> None:
    owners, owner, conflicts = _mapped((GONE,))
    assert owners is None and owner is None and len(conflicts) == 1


def test_plain_owner_ids_are_taken_as_subject_ids_without_repeats() -> None:
    owners, owner, _ = _mapped(("ana", "ben", "ana"))
    assert owners == ("ana", "ben") and owner == "ana"
