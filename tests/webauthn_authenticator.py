"""The software WebAuthn authenticator the tests use (an EC P-256 key made with
``cryptography``; ``none`` attestation; UP/UV flags, rpIdHash, signCount and
clientDataJSON built by hand). It lives in ``custos.demo.soft_authenticator``
because the demo tour needs one too; this module is the tests' entry point."""

from __future__ import annotations

import json

from conftest import World
from custos.demo.soft_authenticator import FLAG_AT, FLAG_UP, FLAG_UV, SoftAuthenticator, b64
from custos.domain.enrolment import AuthenticatorKind
from custos.domain.model import Operator
from custos.domain.states import CaseState
from custos.service.ceremonies import webauthn_proofing
from custos.service.ceremonies.webauthn_ceremonies import user_handle

ORIGIN = "https://recovery.example.org"
RP_ID = "recovery.example.org"

__all__ = [
    "FLAG_AT",
    "FLAG_UP",
    "FLAG_UV",
    "ORIGIN",
    "RP_ID",
    "SoftAuthenticator",
    "enrol_webauthn",
]


def enrol_webauthn(
    world: World, subject_id: str, *, label: str = "security key"
) -> SoftAuthenticator:
    """Bind a fresh software credential to ``subject_id`` directly in the store (as
    a completed registration would) and return its authenticator."""
    key = SoftAuthenticator(user_handle=user_handle(world.svc, subject_id))
    now = world.clock.now()
    with world.svc.uow() as uow:
        bound = uow.authenticators.bind(
            subject_id, AuthenticatorKind.WEBAUTHN, label=label, by="system:test", now=now
        )
        uow.authenticators.add_credential(
            bound.id,
            subject_id,
            credential_id=b64(key.credential_id),
            public_key=key.cose_public_key(),
            sign_count=0,
            user_verified=True,
        )
        uow.commit()
    return key


def last_webauthn_link(world: World, subject_id: str) -> str:
    body = world.mail(f"{subject_id}@example.org", "webauthn_link")[-1]["body"]
    return str(body.split("#link=")[1].split()[0])


def prove_case_with_key(
    world: World, operator: Operator, case_id: str, subject_id: str, key: SoftAuthenticator
) -> CaseState:
    """The help-desk path: the agent sends the link, the subject's device answers
    it with ``key``. Returns the case state after the proof."""
    webauthn_proofing.send_link(world.svc, operator, case_id)
    link = last_webauthn_link(world, subject_id)
    options = webauthn_proofing.link_options(world.svc, link=link)
    assertion = key.assert_(options, origin=ORIGIN)
    return webauthn_proofing.link_proof(world.svc, link=link, response=json.dumps(assertion))
