"""WebAuthn verification against a software authenticator (tests/webauthn_authenticator.py):
the browser's JSON, checked by py_webauthn with the RP id and origin of the
configured public origin. Storage-dependent rules (single use, expiry, binding,
unknown credential) are tested in tests/integration/enrolment."""

from __future__ import annotations

import pytest
from webauthn_authenticator import ORIGIN, RP_ID, SoftAuthenticator

from custos.proofing import webauthn as wa

RP = wa.RelyingParty.from_origin(ORIGIN)


def registered(*, uv: bool = True) -> tuple[SoftAuthenticator, wa.NewCredential]:
    key = SoftAuthenticator()
    options = wa.registration_options(
        RP, user_handle=b"h" * 32, user_name="bob", display_name="Bob", exclude=[], require_uv=True
    )
    response = key.register(options.json, origin=ORIGIN, user_verified=uv)
    credential = wa.verify_registration(RP, response, challenge=options.challenge, require_uv=uv)
    return key, credential


def assertion_options(credential: wa.NewCredential, *, uv: bool = True) -> wa.Options:
    return wa.authentication_options(RP, allow=[credential.credential_id], require_uv=uv)


def verify(
    key_response: dict[str, object],
    options: wa.Options,
    credential: wa.NewCredential,
    *,
    sign_count: int = 0,
    uv: bool = True,
) -> wa.Assertion:
    return wa.verify_assertion(
        RP,
        key_response,
        challenge=options.challenge,
        public_key=credential.public_key,
        sign_count=sign_count,
        require_uv=uv,
    )


def test_relying_party_comes_from_the_public_origin() -> None:
    assert (RP.id, RP.origin) == (RP_ID, ORIGIN)
    assert wa.RelyingParty.from_origin("http://127.0.0.1:8080/").id == "127.0.0.1"


def test_registration_and_assertion_succeed_with_user_verification() -> None:
    key, credential = registered()
    assert credential.user_verified
    options = assertion_options(credential)
    assert options.json["userVerification"] == "required"
    assert options.json["rpId"] == RP_ID
    result = verify(key.assert_(options.json, origin=ORIGIN), options, credential)
    assert result.credential_id == credential.credential_id
    assert result.new_sign_count == 1 and result.user_verified


def test_assertion_from_another_origin_is_rejected() -> None:
    """Phishing resistance: a look-alike site's assertion names its own origin."""
    key, credential = registered()
    options = assertion_options(credential)
    phished = key.assert_(options.json, origin="https://recovery.example.org.evil.test")
    with pytest.raises(wa.WebAuthnRejected, match="origin"):
        verify(phished, options, credential)


def test_assertion_for_another_rp_id_is_rejected() -> None:
    key, credential = registered()
    options = assertion_options(credential)
    with pytest.raises(wa.WebAuthnRejected, match="RP ID"):
        verify(key.assert_(options.json, origin=ORIGIN, rp_id="evil.test"), options, credential)


def test_registration_for_another_origin_is_rejected() -> None:
    options = wa.registration_options(
        RP, user_handle=b"h" * 32, user_name="bob", display_name="Bob", exclude=[], require_uv=True
    )
    response = SoftAuthenticator().register(options.json, origin="https://evil.test")
    with pytest.raises(wa.WebAuthnRejected):
        wa.verify_registration(RP, response, challenge=options.challenge, require_uv=True)


def test_assertion_answering_another_challenge_is_rejected() -> None:
    key, credential = registered()
    first, second = assertion_options(credential), assertion_options(credential)
    with pytest.raises(wa.WebAuthnRejected, match="challenge"):
        verify(key.assert_(first.json, origin=ORIGIN), second, credential)


def test_missing_user_verification_is_rejected_when_required() -> None:
    """Privileged tiers require UV: presence alone (a touch) is not enough."""
    key, credential = registered()
    options = assertion_options(credential)
    with pytest.raises(wa.WebAuthnRejected, match="verif"):
        verify(key.assert_(options.json, origin=ORIGIN, user_verified=False), options, credential)
    relaxed = assertion_options(credential, uv=False)
    result = verify(
        key.assert_(relaxed.json, origin=ORIGIN, user_verified=False), relaxed, credential, uv=False
    )
    assert not result.user_verified


def test_missing_user_presence_is_rejected() -> None:
    key, credential = registered()
    options = assertion_options(credential)
    with pytest.raises(wa.WebAuthnRejected, match="present"):
        verify(key.assert_(options.json, origin=ORIGIN, user_present=False), options, credential)


def test_counter_regression_is_rejected() -> None:
    """A signature counter that does not grow suggests a cloned authenticator."""
    key, credential = registered()
    options = assertion_options(credential)
    with pytest.raises(wa.WebAuthnRejected, match="sign count"):
        verify(key.assert_(options.json, origin=ORIGIN, count=4), options, credential, sign_count=5)


def test_signature_by_another_key_is_rejected() -> None:
    key, credential = registered()
    impostor = SoftAuthenticator(credential_id=key.credential_id)
    options = assertion_options(credential)
    with pytest.raises(wa.WebAuthnRejected, match="signature"):
        verify(impostor.assert_(options.json, origin=ORIGIN), options, credential)


def test_malformed_responses_are_rejected() -> None:
    with pytest.raises(wa.WebAuthnRejected):
        wa.parse_response("not json")
    with pytest.raises(wa.WebAuthnRejected):
        wa.parse_response('{"no": "id"}')
    with pytest.raises(wa.WebAuthnRejected):
        wa.challenge_of({"id": "x", "response": {"clientDataJSON": "!!"}})
