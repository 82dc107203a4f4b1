"""Re-proofing with signed provider results (JWT), on SQLite and PostgreSQL:
signature, issuer, audience, key id, times, replay, IAL and core attributes
(R-4, R-9, R-10, R-11), and the AAL rules that re-proofing satisfies (R-2, R-3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from idv_provider import ATTRIBUTES, Provider, claims, jwks_server, provider_settings
from proof_world import proof_world
from sqlalchemy import select

from conftest import BACKENDS, World
from custos.api.app import create_app
from custos.domain.errors import ProofingFailed
from custos.domain.model import Role
from custos.domain.states import CaseState
from custos.service.ceremonies import reproofing
from custos.service.recovery import cases, self_service
from custos.store.tables import ledger


@pytest.fixture
def provider() -> Provider:
    idv = Provider()
    idv.add_key("ES256", kid="k-es")
    idv.add_key("RS256", kid="k-rs")
    idv.add_key("EdDSA", kid="k-ed")
    return idv


@pytest.fixture(params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path: Path, provider: Provider) -> Iterator[World]:
    jwks = provider.write_jwks(tmp_path / "jwks.json")
    yield from proof_world(request.param, tmp_path, proofing=provider_settings(jwks_file=jwks))


def enrol(
    world: World, subject_id: str, *, ial: int = 2, groups: tuple[str, ...] = ("staff",)
) -> None:
    world.subject(subject_id, groups=groups, with_totp=True)
    reproofing.record_proofed_attributes(world.svc, subject_id, ATTRIBUTES, ial=ial)
    if "hana" not in world.operators:
        world.operator("hana", Role.REQUESTER)


def helpdesk_case(world: World, subject_id: str) -> str:
    return cases.open_helpdesk_case(
        world.svc, world.operators["hana"], subject_id=subject_id, reason="lost every factor"
    ).id


def prove(world: World, case_id: str, token: str) -> CaseState:
    return cases.add_proof(
        world.svc, world.operators["hana"], case_id, method="reproofing", response=token
    ).state


def rejection(world: World, case_id: str, token: str) -> str:
    """Submit ``token``, expect a failure, return the reason the ledger recorded."""
    with pytest.raises(ProofingFailed):
        prove(world, case_id, token)
    with world.svc.uow() as uow:
        checks = [
            e for e in uow.ledger.for_case(case_id) if e["type"] == "proofing:reproofing:checked"
        ]
    assert checks[-1]["outcome"] == "failure"
    return str(checks[-1]["reason"])


@pytest.mark.parametrize("kid", ["k-es", "k-rs", "k-ed"])
def test_reproofing_passes_when_signed_result_matches_account(
    world: World, provider: Provider, kid: str
) -> None:
    """A result signed with ES256, RS256 or EdDSA, at the account's IAL, with the
    account's core attributes, is one passed proof (R-4, R-10)."""
    enrol(world, "bob")
    case_id = helpdesk_case(world, "bob")
    token = provider.sign(claims(world.clock.now()), kid)
    assert prove(world, case_id, token) == CaseState.APPROVED
    with world.svc.uow() as uow:
        events = uow.ledger.for_case(case_id)
    check = next(e for e in events if e["type"] == "proofing:reproofing:checked")
    assert check["outcome"] == "success"
    assert check["data"]["ial"] == 2 and check["data"]["provider"] == "acme"
    everything = repr(events)
    assert token not in everything and "1985-04-12" not in everything


def test_reproofing_matches_attributes_after_normalisation(
    world: World, provider: Provider
) -> None:
    """Core attributes compare case-insensitively, after Unicode and whitespace
    normalisation (R-4)."""
    enrol(world, "bob")
    case_id = helpdesk_case(world, "bob")
    attributes = {**ATTRIBUTES, "given_name": "  BOB ", "family_name": "MÜLLER"}
    token = provider.sign(claims(world.clock.now(), attributes=attributes), "k-es")
    assert prove(world, case_id, token) == CaseState.APPROVED


def test_proofed_attributes_are_stored_only_as_digests(world: World) -> None:
    enrol(world, "bob")
    with world.svc.uow() as uow:
        stored = uow.proofed_attributes.of("bob")
    assert set(stored) == set(ATTRIBUTES)
    assert not any(value in repr(stored) for value in ATTRIBUTES.values())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"family_name": "Meyer"}, "family_name"),
        ({"birthdate": "1985-04-13"}, "birthdate"),
        ({"employee_id": None}, "employee_id"),
    ],
)
def test_reproofing_fails_when_core_attributes_differ(
    world: World, provider: Provider, change: dict[str, Any], reason: str
) -> None:
    """R-4: every proofed core attribute of the account must match."""
    enrol(world, "bob")
    case_id = helpdesk_case(world, "bob")
    attributes = {k: v for k, v in {**ATTRIBUTES, **change}.items() if v is not None}
    token = provider.sign(claims(world.clock.now(), attributes=attributes), "k-es")
    assert reason in rejection(world, case_id, token)


def test_reproofing_fails_when_ial_is_below_the_accounts(world: World, provider: Provider) -> None:
    """R-4: re-proofing must reach the IAL the account was proofed at."""
    enrol(world, "bob", ial=2)
    case_id = helpdesk_case(world, "bob")
    token = provider.sign(claims(world.clock.now(), ial=1), "k-es")
    assert "below the IAL2" in rejection(world, case_id, token)


def test_reproofing_fails_when_evidence_does_not_support_ial(
    world: World, provider: Provider
) -> None:
    """R-10: IAL2 needs one FAIR + one STRONG, or a SUPERIOR verified cryptographically;
    an unverified SUPERIOR alone counts as STRONG."""
    enrol(world, "bob")
    case_id = helpdesk_case(world, "bob")
    weak = [{"strength": "SUPERIOR", "cryptographically_verified": False}]
    token = provider.sign(claims(world.clock.now(), evidence=weak), "k-es")
    assert "evidence does not support IAL2" in rejection(world, case_id, token)
    strong = [{"strength": "SUPERIOR", "cryptographically_verified": True}]
    assert prove(world, case_id, provider.sign(claims(world.clock.now(), evidence=strong), "k-es"))


def test_ial3_account_refuses_remote_unattended_result(world: World, provider: Provider) -> None:
    """R-3, R-11: an IAL3 account recovers only through an attended session with a
    biometric comparison; a remote unattended IAL3 claim is refused."""
    enrol(world, "ida", ial=3, groups=("ial3",))
    case_id = helpdesk_case(world, "ida")
    remote = provider.sign(claims(world.clock.now(), ial=3, attended=False, biometric=True), "k-es")
    assert "remote unattended results are refused" in rejection(world, case_id, remote)
    attended = provider.sign(
        claims(world.clock.now(), ial=3, attended=True, biometric=True), "k-es"
    )
    assert prove(world, case_id, attended) == CaseState.APPROVED


def test_reproofing_fails_when_signature_is_bad(world: World, provider: Provider) -> None:
    enrol(world, "bob")
    case_id = helpdesk_case(world, "bob")
    impostor = Provider()
    impostor.add_key("ES256", kid="k-es")  # same kid, another key
    token = impostor.sign(claims(world.clock.now()), "k-es")
    assert rejection(world, case_id, token) == "bad signature"


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda p, now: p.sign(claims(now), "k-es").replace(".", ".x", 1), "not a signed JWT"),
        (
            lambda p, now: p.sign(claims(now, issuer="https://evil.example"), "k-es"),
            "unknown issuer",
        ),
        (lambda p, now: p.sign(claims(now, audience="someone-else"), "k-es"), "wrong audience"),
        (
            lambda p, now: jwt.encode(
                claims(now), "k" * 32, algorithm="HS256", headers={"kid": "k-es"}
            ),
            "algorithm 'HS256' is refused",
        ),
        (
            # "" is no key: PyJWT's "none" algorithm takes it as it takes None,
            # which the annotation of jwt.encode leaves out.
            lambda p, now: jwt.encode(claims(now), "", algorithm="none", headers={"kid": "k-es"}),
            "algorithm 'none' is refused",
        ),
    ],
    ids=["garbled", "issuer", "audience", "hs256", "none"],
)
def test_reproofing_fails_when_token_is_not_from_the_provider(
    world: World, provider: Provider, build: Any, reason: str
) -> None:
    """Garbled tokens, unknown issuers, another
    audience and symmetric or unsigned algorithms are all refused."""
    enrol(world, "bob")
    case_id = helpdesk_case(world, "bob")
    token = build(provider, world.clock.now())
    assert reason in rejection(world, case_id, token)


def test_reproofing_fails_when_kid_is_unknown(world: World, provider: Provider) -> None:
    enrol(world, "bob")
    case_id = helpdesk_case(world, "bob")
    provider.add_key("ES256", kid="k-unpublished")  # the JWKS file was written before
    token = provider.sign(claims(world.clock.now()), "k-unpublished")
    assert "unknown key id" in rejection(world, case_id, token)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"age": timedelta(minutes=11), "lifetime": timedelta(hours=1)}, "too old"),
        ({"age": timedelta(minutes=9), "lifetime": timedelta(minutes=8)}, "expired"),
        ({"age": timedelta(minutes=-5)}, "issued in the future"),
    ],
    ids=["older-than-max-age", "expired", "future-iat"],
)
def test_reproofing_fails_when_result_is_stale_or_early(
    world: World, provider: Provider, kwargs: dict[str, Any], reason: str
) -> None:
    """Results older than max_token_age_s, expired or issued in the future are refused."""
    enrol(world, "bob")
    case_id = helpdesk_case(world, "bob")
    token = provider.sign(claims(world.clock.now(), **kwargs), "k-es")
    assert reason in rejection(world, case_id, token)


def test_reproofing_fails_when_not_yet_valid(world: World, provider: Provider) -> None:
    enrol(world, "bob")
    case_id = helpdesk_case(world, "bob")
    nbf = int((world.clock.now() + timedelta(minutes=5)).timestamp())
    token = provider.sign(claims(world.clock.now(), nbf=nbf), "k-es")
    assert "not valid yet" in rejection(world, case_id, token)


def test_reproofing_refuses_a_replayed_result(world: World, provider: Provider) -> None:
    """A result counts once, even for another case of the same subject (its jti
    is stored; R-15 single use)."""
    enrol(world, "bob")
    token = provider.sign(claims(world.clock.now()), "k-es")
    first = helpdesk_case(world, "bob")
    assert prove(world, first, token) == CaseState.APPROVED
    cases.cancel(world.svc, world.operators["hana"], first, reason="test")
    second = helpdesk_case(world, "bob")
    assert "replay" in rejection(world, second, token)


def test_aal2_one_code_alone_is_a_step_up_not_a_recovery(world: World) -> None:
    """R-2: at AAL2 one code is not enough; a code plus a bound authenticator is."""
    world.subject("sam", groups=("strict",), with_totp=True)
    flow = self_service.start(world.svc, identifier="sam", source_address=None)
    self_service.request_email_code(world.svc, handle=flow)
    code = world.last_code("sam")
    first = self_service.submit_proof(world.svc, handle=flow, method="email_code", response=code)
    assert first.status == "more_proof_required"
    second = self_service.submit_proof(
        world.svc, handle=flow, method="totp", response=world.totp_now("sam")
    )
    assert second.status == "link_sent"


def test_aal2_reproofing_alone_recovers_through_the_api(
    world: World, provider: Provider, tmp_path: Path
) -> None:
    """R-2: repeated identity proofing alone is an AAL2 recovery; the JWT travels
    as the code of the generic self-service proof endpoint."""
    world.subject("sam", groups=("strict",))
    reproofing.record_proofed_attributes(world.svc, "sam", ATTRIBUTES, ial=2)
    with TestClient(create_app(world.svc)) as api:
        flow = api.post("/api/v1/self-service/recoveries", json={"identifier": "sam"}).json()[
            "flow"
        ]
        token = provider.sign(claims(world.clock.now()), "k-ed")
        answer = api.post(
            f"/api/v1/self-service/recoveries/{flow}/proofs",
            json={"method": "reproofing", "code": token},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "link_sent"
        again = api.post(
            f"/api/v1/self-service/recoveries/{flow}/proofs",
            json={"method": "reproofing", "code": token},
        )
        assert again.status_code == 400  # the case moved on; the same generic answer


def test_jwks_is_fetched_over_https_and_cached(tmp_path: Path, provider: Provider) -> None:
    """A JWKS URL is fetched over HTTPS (validated against the configured CA),
    cached for jwks_ttl_s, and fetched again on an unknown kid (key rotation)."""
    with jwks_server(tmp_path, provider.jwks()) as server:
        settings = provider_settings(
            jwks_url=server.url, ca_file=server.tls.ca_file, jwks_ttl_s=300
        )
        world = next(proof_world("sqlite", tmp_path, proofing=settings))
        enrol(world, "bob")
        case_id = helpdesk_case(world, "bob")
        verifier = world.svc.idv
        first = verifier.verify(provider.sign(claims(world.clock.now()), "k-es"))
        verifier.verify(provider.sign(claims(world.clock.now()), "k-rs"))
        assert first.provider == "acme" and server.requests == 1
        world.clock.advance(timedelta(minutes=6))  # past the TTL
        verifier.verify(provider.sign(claims(world.clock.now()), "k-es"))
        assert server.requests == 2
        rotated = provider.add_key("ES256", kid="k-rotated")
        server.document = provider.jwks()
        world.clock.advance(timedelta(seconds=31))
        assert prove(world, case_id, provider.sign(claims(world.clock.now()), rotated)) == (
            CaseState.APPROVED
        )
        assert server.requests == 3
        world.svc.engine.dispose()


def test_jwks_url_with_untrusted_certificate_fails_closed(
    tmp_path: Path, provider: Provider
) -> None:
    """Without the provider's CA the TLS handshake fails and nothing verifies."""
    with jwks_server(tmp_path, provider.jwks()) as server:
        world = next(
            proof_world("sqlite", tmp_path, proofing=provider_settings(jwks_url=server.url))
        )
        enrol(world, "bob")
        case_id = helpdesk_case(world, "bob")
        token = provider.sign(claims(world.clock.now()), "k-es")
        assert "unavailable" in rejection(world, case_id, token)
        world.svc.engine.dispose()


def test_passing_reproofing_lifts_the_bind_demand_of_a_helpdesk_recovery(
    world: World, provider: Provider
) -> None:
    """R-45: after an agent-assisted recovery the subject must bind a
    phishing-resistant authenticator *or re-proof*; a passed re-proofing lifts
    the demand (ledger: enrolment:subject:bind_satisfied, by re-proofing), a
    failed one leaves it."""
    enrol(world, "bob")
    with world.svc.uow() as uow:
        uow.subjects.set_bind_due("bob", True)
        uow.commit()
    failed_case = helpdesk_case(world, "bob")
    rejection(world, failed_case, provider.sign(claims(world.clock.now(), ial=1), "k-es"))
    with world.svc.uow() as uow:
        subject = uow.subjects.get("bob")
    assert subject is not None and subject.phishing_resistant_bind_due
    cases.cancel(world.svc, world.operators["hana"], failed_case, reason="retry")

    case_id = helpdesk_case(world, "bob")
    assert prove(world, case_id, provider.sign(claims(world.clock.now()), "k-es")) == (
        CaseState.APPROVED
    )
    with world.svc.uow() as uow:
        subject = uow.subjects.get("bob")
        satisfied = list(
            uow.conn.execute(
                select(ledger.c.canonical).where(
                    ledger.c.subject_id == "bob",
                    ledger.c.type == "enrolment:subject:bind_satisfied",
                )
            ).scalars()
        )
    assert subject is not None and not subject.phishing_resistant_bind_due
    assert [json.loads(e)["data"] for e in satisfied] == [{"by": "re-proofing"}]
