"""A contractor's sponsor on record and their attestation through the real
link (the default policy's contractor tier requires ``manager_attestation``):
for tests that recover contractors through the help desk or self-service."""

from __future__ import annotations

import dataclasses
from typing import Any

from conftest import World
from custos.domain.model import Operator
from custos.service.ceremonies import attestation

#: The sponsor every helper gives a contractor unless told otherwise.
SPONSOR = "sponsor"


def with_sponsor(world: World, subject_id: str, sponsor: str = SPONSOR) -> None:
    """Record ``sponsor`` (made a subject with a confirmed email if unknown) as
    the sponsor of the existing subject ``subject_id``."""
    with world.svc.uow() as uow:
        known = uow.subjects.get(sponsor) is not None
    if not known:
        world.subject(sponsor)
    with world.svc.uow() as uow:
        subject = uow.subjects.get(subject_id)
        assert subject is not None
        uow.subjects.update(dataclasses.replace(subject, sponsor=sponsor))
        uow.commit()


def sponsor_link(world: World, sponsor: str = SPONSOR) -> str:
    """The token of the last attestation link mailed to ``sponsor``."""
    body = world.mail(f"{sponsor}@example.org", "attestation_request")[-1]["body"]
    return str(body.split("#token=")[1].split()[0])


def sponsor_attests(world: World, agent: Operator, case_id: str, sponsor: str = SPONSOR) -> None:
    """On a help-desk case, ``agent`` asks the sponsor, who attests through the
    link mailed to them."""
    assert attestation.request(world.svc, agent, case_id) == "sponsor"
    attestation.decide(world.svc, token=sponsor_link(world, sponsor), decision="attest")


def sponsor_attests_over_api(
    world: World, api: Any, case_id: str, headers: dict[str, str], sponsor: str = SPONSOR
) -> None:
    """The same through the JSON API: the agent (``headers``) asks, the sponsor
    attests with the token of the mailed link."""
    asked = api.post(f"/api/v1/cases/{case_id}/attestation", headers=headers)
    assert asked.status_code == 202, asked.text
    attested = api.post("/api/v1/attestations/attest", json={"token": sponsor_link(world, sponsor)})
    assert attested.status_code == 200, attested.text
