"""An ID token is accepted only when valid (OpenID Connect Core §3.1.3.7): signed
by a key of the provider's set under an allowed asymmetric algorithm, issued by
the configured issuer, for this client, not expired, carrying the nonce sent and,
when present, the access token's hash. Tokens here are signed with keys made by
the test; the end-to-end tests use a real provider's."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError
from joserfc.jwk import ECKey, KeySet, OctKey

from custos.sso.errors import IdTokenInvalid
from custos.sso.relying_party import LEEWAY_S, validate_id_token

ISSUER = "https://login.example.com"
CLIENT = "custos"
NONCE = "n-0S6_WzA2Mj"
NOW = int(time.time())
KEY = ECKey.generate_key("P-256", parameters={"kid": "k1"})
OTHER = ECKey.generate_key("P-256", parameters={"kid": "k1"})
KEYS = KeySet([KEY])


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "sub": "u-1001",
        "aud": CLIENT,
        "iat": NOW,
        "exp": NOW + 300,
        "nonce": NONCE,
        "preferred_username": "alice",
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token(claims: dict[str, Any], key: Any = KEY, alg: str = "ES256", kid: str = "k1") -> str:
    return jwt.encode({"alg": alg, "kid": kid}, claims, key, algorithms=[alg])


def _validate(raw: str, *, access_token: str | None = None, now: int = NOW) -> dict[str, Any]:
    return validate_id_token(
        raw,
        keys=KEYS,
        issuer=ISSUER,
        client_id=CLIENT,
        algorithms=["RS256", "ES256"],
        nonce=NONCE,
        access_token=access_token,
        now=now,
    )


def _refusal(raw: str, **kwargs: Any) -> str:
    with pytest.raises(IdTokenInvalid) as refused:
        _validate(raw, **kwargs)
    return refused.value.message


def test_a_valid_token_gives_its_claims() -> None:
    claims = _validate(_token(_claims()))
    assert claims["sub"] == "u-1001" and claims["preferred_username"] == "alice"


def test_a_signature_by_another_key_is_refused() -> None:
    assert "bad_signature" in _refusal(_token(_claims(), key=OTHER))


def test_another_issuer_is_refused() -> None:
    assert "invalid_claim: iss" in _refusal(_token(_claims(iss="https://evil.example")))


def test_another_audience_is_refused() -> None:
    assert "invalid_claim: aud" in _refusal(_token(_claims(aud="someone-else")))


def test_several_audiences_need_this_client_as_authorized_party() -> None:
    assert "missing_claim: azp" in _refusal(_token(_claims(aud=[CLIENT, "api"])))
    assert _validate(_token(_claims(aud=[CLIENT, "api"], azp=CLIENT)))["azp"] == CLIENT


def test_an_expired_token_is_refused_beyond_the_leeway() -> None:
    token = _token(_claims(exp=NOW - LEEWAY_S - 1))
    assert "expired_token" in _refusal(token)
    assert _validate(_token(_claims(exp=NOW - LEEWAY_S + 5)))


def test_a_token_from_the_future_is_refused() -> None:
    assert "invalid_claim: iat" in _refusal(_token(_claims(iat=NOW + LEEWAY_S + 60)))


def test_another_or_no_nonce_is_refused() -> None:
    assert "invalid_claim: nonce" in _refusal(_token(_claims(nonce="replayed")))
    assert "missing_claim: nonce" in _refusal(_token(_claims(nonce=None)))


def test_a_symmetric_or_unsigned_token_is_refused() -> None:
    secret = OctKey.generate_key(256)
    hs = jwt.encode({"alg": "HS256", "kid": "k1"}, _claims(), secret, algorithms=["HS256"])
    _refusal(hs)
    header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = _token(_claims()).split(".")[1]
    _refusal(f"{header}.{body}.")


def test_an_unknown_key_id_is_told_apart_for_a_key_refresh() -> None:
    with pytest.raises(IdTokenInvalid) as refused:
        _validate(_token(_claims(), kid="rotated"))
    assert isinstance(refused.value.__cause__, InvalidKeyIdError)


def test_the_access_token_hash_must_match_when_present() -> None:
    access = "an-access-token"
    half = hashlib.sha256(access.encode()).digest()[:16]
    at_hash = base64.urlsafe_b64encode(half).rstrip(b"=").decode()
    assert _validate(_token(_claims(at_hash=at_hash)), access_token=access)
    assert "invalid_claim: at_hash" in _refusal(
        _token(_claims(at_hash=at_hash)), access_token="another"
    )


def test_a_refusal_never_repeats_the_token() -> None:
    token = _token(_claims(aud="someone-else"))
    message = _refusal(token)
    assert token not in message and token.split(".")[1] not in message
