"""A contractor's sponsor on record and their attestation through the real
link (the default policy's contractor tier requires ``manager_attestation``):
for tests that recover contractors through the help desk or self-service."""

from __future__ import annotations

import dataclasses
from typing import Any

from conftest import World
from custos.domain.model import Operator
from custos.service.ceremonies import attestation


def sponsor_of(subject_id: str) -> str:
    """The sponsor the helpers give ``subject_id``: one per contractor, so that
    histories of many cases stay under the per-sponsor cap on requests."""
    return f"{subject_id}-sponsor"


def with_sponsor(world: World, subject_id: str, sponsor: str | None = None) -> None:
    """Record ``sponsor`` (default :func:`sponsor_of`; made a subject with a
    confirmed email if unknown) as the sponsor of the existing subject
    ``subject_id``."""
    sponsor = sponsor or sponsor_of(subject_id)
    with world.svc.uow() as uow:
        known = uow.subjects.get(sponsor) is not None
    if not known:
        world.subject(sponsor)
    with world.svc.uow() as uow:
        subject = uow.subjects.get(subject_id)
        assert subject is not None
        uow.subjects.update(dataclasses.replace(subject, sponsor=sponsor))
        uow.commit()


def sponsor_link(world: World, sponsor: str) -> str:
    """The token of the last attestation link mailed to ``sponsor`` (through the
    World's SMTP server when it has one)."""
    address = f"{sponsor}@example.org"
    if world.mail_server is not None:
        world.send_notices()
        body = world.mail_server.to(address, "attestation_request")[-1].text
    else:
        body = world.mail(address, "attestation_request")[-1]["body"]
    return str(body.split("#token=")[1].split()[0])


def sponsor_attests(world: World, agent: Operator, case_id: str) -> None:
    """On a help-desk case, ``agent`` asks the subject's sponsor, who attests
    through the link mailed to them."""
    assert attestation.request(world.svc, agent, case_id) == "sponsor"
    token = sponsor_link(world, _sponsor_on_case(world, case_id))
    attestation.decide(world.svc, token=token, decision="attest")


def _sponsor_on_case(world: World, case_id: str) -> str:
    with world.svc.uow(read_only=True) as uow:
        case = uow.cases.get(case_id)
        subject = uow.subjects.get(case.subject_id)
    assert subject is not None and subject.sponsor is not None
    return subject.sponsor


def sponsor_attests_over_api(world: World, api: Any, case_id: str, headers: dict[str, str]) -> None:
    """The same through the JSON API: the agent (``headers``) asks, the sponsor
    attests with the token of the mailed link."""
    asked = api.post(f"/api/v1/cases/{case_id}/attestation", headers=headers)
    assert asked.status_code == 202, asked.text
    token = sponsor_link(world, _sponsor_on_case(world, case_id))
    attested = api.post("/api/v1/attestations/attest", json={"token": token})
    assert attested.status_code == 200, attested.text
