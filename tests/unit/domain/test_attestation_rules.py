"""Who attests a recovery request, and who never may (R-33 applied to proofing)."""

from __future__ import annotations

import pytest

from custos.domain.attestation import MANAGER, SPONSOR, attester_of, check_attester
from custos.domain.errors import SeparationOfDuties
from custos.domain.identities import Employment, Subject, SubjectKind


def person(**attrs: object) -> Subject:
    return Subject(id="kim", display_name="Kim", **attrs)  # type: ignore[arg-type]


def test_employee_is_attested_by_their_manager() -> None:
    assert attester_of(person(manager="mia", sponsor="sam")) == (MANAGER, "mia")
    assert (MANAGER, SPONSOR) == ("manager", "sponsor")


def test_contractor_is_attested_by_their_sponsor_else_their_manager() -> None:
    contractor = {"employment": Employment.CONTRACTOR}
    assert attester_of(person(manager="mia", sponsor="sam", **contractor)) == (SPONSOR, "sam")
    assert attester_of(person(manager="mia", **contractor)) == (MANAGER, "mia")
    assert attester_of(person(**contractor)) is None


@pytest.mark.parametrize("kind", [SubjectKind.SERVICE, SubjectKind.SHARED])
def test_non_human_accounts_have_no_attester(kind: SubjectKind) -> None:
    assert attester_of(person(kind=kind, manager="mia", sponsor="sam")) is None


def test_subject_without_manager_has_no_attester() -> None:
    assert attester_of(person()) is None


def test_subject_cannot_attest_own_recovery() -> None:
    with pytest.raises(SeparationOfDuties) as caught:
        check_attester("kim", subject_id="kim", requester_person=None, asked_by_person=None)
    assert caught.value.message == "a subject cannot attest their own recovery"


@pytest.mark.parametrize(
    ("requester", "asked_by"), [("mia", None), (None, "mia"), ("hd", "mia"), ("mia", "hd")]
)
def test_requester_or_asker_cannot_attest(requester: str | None, asked_by: str | None) -> None:
    """R-33: nobody vouches for their own request."""
    with pytest.raises(SeparationOfDuties) as caught:
        check_attester(
            "mia", subject_id="kim", requester_person=requester, asked_by_person=asked_by
        )
    assert caught.value.message == "the requester of a recovery cannot attest it (R-33)"


def test_distinct_manager_may_attest() -> None:
    check_attester("mia", subject_id="kim", requester_person="hd", asked_by_person="hd")
    check_attester("mia", subject_id="kim", requester_person=None, asked_by_person=None)
