"""Subjects enrol their own methods (R-12, R-22, R-27, R-28, R-29, R-36), on SQLite
and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import select
from subject_helpers import PASSWORD, sign_in, with_password
from webauthn_authenticator import ORIGIN, SoftAuthenticator, enrol_webauthn

from conftest import World
from custos.domain.enrolment import AuthenticatorKind
from custos.domain.errors import NotFound, ProofingFailed, ReauthenticationRequired
from custos.service.enrolment import authenticators as enrolment
from custos.service.enrolment import subject_sessions
from custos.store.tables import ledger


def _subject(world: World, subject_id: str, **kw: object) -> None:
    world.subject(subject_id, **kw)  # type: ignore[arg-type]
    with_password(world, subject_id)


def _ledger_types(world: World, subject_id: str) -> list[str]:
    with world.svc.engine.connect() as conn:
        return list(
            conn.execute(
                select(ledger.c.type)
                .where(ledger.c.subject_id == subject_id)
                .order_by(ledger.c.seq)
            ).scalars()
        )


def test_totp_enrolment_shows_the_secret_once_and_binds_on_the_first_code(world: World) -> None:
    """R-27, R-36: the old app is revoked as replaced; both keep their history."""
    _subject(world, "carol", with_totp=True)
    token = sign_in(world, "carol").token
    pending = enrolment.begin_totp(world.svc, token=token)
    secret = parse_qs(urlparse(pending.otpauth_uri).query)["secret"][0]
    assert pending.otpauth_uri.startswith("otpauth://totp/")
    with pytest.raises(ProofingFailed):
        enrolment.confirm_totp(world.svc, token=token, pending_id=pending.pending_id, code="000000")
    code = pyotp.TOTP(secret).at(world.clock.now())
    bound = enrolment.confirm_totp(world.svc, token=token, pending_id=pending.pending_id, code=code)
    history = enrolment.methods(world.svc, token=token)
    totps = [a for a in history if a.kind == AuthenticatorKind.TOTP]
    assert [a.active for a in totps] == [False, True]
    assert totps[0].revoked_reason == "replaced" and totps[1].id == bound.id
    assert bound.bound_by == "subject:carol"
    assert "enrolment:totp:bound" in _ledger_types(world, "carol")
    assert "enrolment:totp:revoked" in _ledger_types(world, "carol")
    # the binding is announced by email, another channel than the new app.
    assert world.mail("carol@example.org", "authenticator_bound")
    # The pending secret is used up: confirming it again fails.
    with pytest.raises(ProofingFailed):
        enrolment.confirm_totp(world.svc, token=token, pending_id=pending.pending_id, code=code)


def test_enrolment_needs_a_fresh_reauthentication(world: World) -> None:
    """R-27: after five minutes the session must re-authenticate fully first."""
    _subject(world, "bob")
    token = sign_in(world, "bob").token
    world.clock.advance(timedelta(minutes=6))
    with pytest.raises(ReauthenticationRequired):
        enrolment.begin_totp(world.svc, token=token)
    token = subject_sessions.reauthenticate(
        world.svc, token=token, password=PASSWORD, method=None, response=""
    ).token
    assert enrolment.begin_totp(world.svc, token=token).otpauth_uri


def test_binding_needs_the_lower_of_highest_and_new_aal(world: World) -> None:
    """R-28: a subject with a security key (AAL3) binds a new key only from a
    session authenticated with a key; TOTP (AAL2) is enough to bind a TOTP."""
    _subject(world, "dana", with_totp=True)
    key = enrol_webauthn(world, "dana")
    by_totp = sign_in(world, "dana").token
    with pytest.raises(ReauthenticationRequired) as refused:
        enrolment.begin_webauthn(world.svc, token=by_totp)
    assert refused.value.details["required_aal"] == 3
    assert enrolment.begin_totp(world.svc, token=by_totp).pending_id > 0
    by_key = sign_in(world, "dana", key=key).token
    assert (
        enrolment.begin_webauthn(world.svc, token=by_key)["authenticatorSelection"][
            "userVerification"
        ]
        == "required"
    )


def test_webauthn_enrolment_binds_a_key_that_then_signs_in(world: World) -> None:
    """R-36: bound with its lifecycle; R-22: announced by email; mfa_bound follows."""
    _subject(world, "bob")
    token = sign_in(world, "bob").token
    key = SoftAuthenticator()
    options = enrolment.begin_webauthn(world.svc, token=token)
    bound = enrolment.finish_webauthn(
        world.svc,
        token=token,
        response=json.dumps(key.register(options, origin=ORIGIN)),
        label="blue key",
    )
    assert (bound.kind, bound.label) == (AuthenticatorKind.WEBAUTHN, "blue key")
    with world.svc.uow() as uow:
        subject = uow.subjects.get("bob")
    assert subject is not None and subject.mfa_bound
    assert world.mail("bob@example.org", "authenticator_bound")
    signed = sign_in(world, "bob", key=key)
    assert int(signed.aal) == 3
    (used,) = enrolment.methods(world.svc, token=signed.token)
    assert used.last_used_at == world.clock.now()


def test_webauthn_registration_response_is_single_use(world: World) -> None:
    """A second key, bound from a session signed in with the first (R-28); the
    same creation response replayed is refused (single-use challenge)."""
    _subject(world, "dana")
    first_key = enrol_webauthn(world, "dana")
    token = sign_in(world, "dana", key=first_key).token
    options = enrolment.begin_webauthn(world.svc, token=token)
    assert options["excludeCredentials"]  # the first key is not registered twice
    response = json.dumps(SoftAuthenticator().register(options, origin=ORIGIN))
    enrolment.finish_webauthn(world.svc, token=token, response=response, label="spare key")
    with pytest.raises(ProofingFailed):
        enrolment.finish_webauthn(world.svc, token=token, response=response, label="")


def test_regenerated_recovery_codes_replace_the_old_set(world: World) -> None:
    """R-12: shown once; the old codes stop working; the set keeps its history."""
    _subject(world, "erin", codes=3)
    token = sign_in(world, "erin").token
    old = world.recovery_codes["erin"]
    world.clock.advance(timedelta(minutes=1))
    fresh = enrolment.regenerate_recovery_codes(world.svc, token=token)
    assert len(fresh) == 10 and not set(fresh) & set(old)
    with world.svc.uow() as uow:
        assert uow.enrolments.remaining_recovery_codes("erin") == 10
    sets = [
        a
        for a in enrolment.methods(world.svc, token=token)
        if a.kind == AuthenticatorKind.RECOVERY_CODES
    ]
    assert [(a.active, a.revoked_reason) for a in sets] == [(False, "regenerated"), (True, None)]


def test_revoked_authenticator_stops_working_at_once(world: World) -> None:
    """R-29: a lost TOTP app is invalidated; mfa_bound follows what is bound."""
    _subject(world, "carol", with_totp=True)
    token = sign_in(world, "carol").token
    (app,) = enrolment.methods(world.svc, token=token)
    revoked = enrolment.revoke(world.svc, token=token, authenticator_id=app.id, reason="phone lost")
    assert revoked.revoked_reason == "phone lost"
    with world.svc.uow() as uow:
        subject = uow.subjects.get("carol")
        assert uow.enrolments.totp("carol") is None
    assert subject is not None and not subject.mfa_bound
    with pytest.raises(NotFound):
        enrolment.revoke(world.svc, token=token, authenticator_id=app.id, reason="again")
    assert (
        subject_sessions.sign_in(world.svc, identifier="carol", password=PASSWORD).second_factors
        == ()
    )


def test_recovery_code_as_second_factor_is_replaced(world: World) -> None:
    """R-12: a saved code used at sign-in is spent and a replacement shown once."""
    _subject(world, "erin", codes=2)
    first = subject_sessions.sign_in(world.svc, identifier="erin", password=PASSWORD)
    assert first.second_factors == ("recovery_code",)
    done = subject_sessions.complete_second_factor(
        world.svc,
        token=first.token,
        method="recovery_code",
        response=world.recovery_codes["erin"][0],
    )
    assert done.replacement_recovery_code is not None
    with world.svc.uow() as uow:
        assert uow.enrolments.remaining_recovery_codes("erin") == 2
    # ...and the subject is told, without the replacement in the message.
    told = world.mail("erin@example.org", "sign_in_code_used")
    assert len(told) == 1 and "2 unused code(s) remain" in told[0]["body"]
    assert done.replacement_recovery_code not in told[0]["body"]
