"""What the domain reads of a subject: its confirmed contacts (R-14)."""

from __future__ import annotations

from custos.domain.identities import (
    CAMPAIGN_ONLY_ACTIONS,
    REFUSING_ACTIONS,
    Contact,
    ContactKind,
    Subject,
)

MAIL = Contact(ContactKind.EMAIL, "kim@example.org", True)
OLD_MAIL = Contact(ContactKind.EMAIL, "kim@old.example.org", False)
PHONE = Contact(ContactKind.SMS, "+4930123456", True)
OLD_PHONE = Contact(ContactKind.SMS, "+4930999999", False)
KIM = Subject(id="kim", display_name="Kim", contacts=(MAIL, OLD_MAIL, PHONE, OLD_PHONE))


def test_confirmed_contacts_leave_out_unconfirmed_ones() -> None:
    """R-14: codes go only to contacts whose confirmation came back."""
    assert KIM.confirmed_contacts() == [MAIL, PHONE]


def test_confirmed_contacts_of_one_kind() -> None:
    assert KIM.confirmed_contacts(ContactKind.EMAIL) == [MAIL]
    assert KIM.confirmed_contacts(ContactKind.SMS) == [PHONE]
    assert Subject(id="x", display_name="X").confirmed_contacts(ContactKind.SMS) == []


def test_refusing_and_campaign_only_actions_by_name() -> None:
    """A block or refuse tier opens no recovery (R-32: nothing recovers past it);
    force-reset and revoke-sessions are a campaign's only, never a tier's."""
    assert {str(a) for a in REFUSING_ACTIONS} == {"block", "refuse"}
    assert {str(a) for a in CAMPAIGN_ONLY_ACTIONS} == {"force_reset", "revoke_sessions"}
