"""The SET signing key ring: keys in a folder (private halves mode 0600), the
newest signs, every key is published as a public JWK whose id is its RFC 7638
thumbprint, and a SET verifies with the published key alone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from custos.domain.errors import NotFound
from custos.signals.keys import NoSigningKey, SsfKeyError, SsfKeyRing, thumbprint
from custos.signals.tokens import sign_set

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}


@pytest.mark.parametrize(("alg", "kty"), [("ES256", "EC"), ("RS256", "RSA"), ("EdDSA", "OKP")])
def test_a_set_verifies_with_the_published_key_of_each_algorithm(
    tmp_path: Path, alg: str, kty: str
) -> None:
    ring = SsfKeyRing(tmp_path / "ssf-keys")
    published = ring.generate(alg, NOW)
    [jwk] = ring.jwks()["keys"]
    assert (jwk["kty"], jwk["alg"], jwk["use"], jwk["kid"]) == (kty, alg, "sig", published.kid)
    assert not PRIVATE_MEMBERS & set(jwk)
    assert thumbprint(jwk) == published.kid
    claims = {"iss": "https://c.example", "aud": "rp", "iat": 1, "jti": "j", "events": {}}
    token = sign_set(claims, ring.active())
    assert jwt.get_unverified_header(token) == {
        "alg": alg,
        "typ": "secevent+jwt",
        "kid": published.kid,
    }
    decoded = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=[alg], audience="rp")
    assert decoded == claims


def test_the_private_half_is_mode_0600_and_a_wider_mode_is_refused(tmp_path: Path) -> None:
    ring = SsfKeyRing(tmp_path / "ssf-keys")
    key = ring.generate("ES256", NOW)
    private = ring.folder / f"{key.kid}.key"
    assert private.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" not in (ring.folder / f"{key.kid}.json").read_text()
    private.chmod(0o644)
    with pytest.raises(SsfKeyError, match="chmod 600"):
        ring.active()


def test_the_newest_key_signs_and_older_ones_stay_published_until_retired(
    tmp_path: Path,
) -> None:
    ring = SsfKeyRing(tmp_path / "ssf-keys")
    with pytest.raises(NoSigningKey):
        ring.active()
    old = ring.generate("ES256", NOW)
    new = ring.generate("RS256", NOW)  # the same instant: the serial orders them
    assert ring.active().kid == new.kid
    assert [k["kid"] for k in ring.jwks()["keys"]] == [old.kid, new.kid]
    with pytest.raises(SsfKeyError, match="rotate first"):
        ring.retire(new.kid)
    ring.retire(old.kid)
    assert [k["kid"] for k in ring.jwks()["keys"]] == [new.kid]
    with pytest.raises(NotFound):
        ring.retire(old.kid)
    newer = ring.generate("ES256", NOW + timedelta(days=1))
    assert ring.active().kid == newer.kid


def test_a_publishing_copy_without_private_halves_cannot_sign(tmp_path: Path) -> None:
    ring = SsfKeyRing(tmp_path / "ssf-keys")
    key = ring.generate("ES256", NOW)
    (ring.folder / f"{key.kid}.key").unlink()
    assert [k["kid"] for k in ring.jwks()["keys"]] == [key.kid]
    with pytest.raises(NoSigningKey):
        ring.active()


def test_a_tampered_public_key_is_refused(tmp_path: Path) -> None:
    ring = SsfKeyRing(tmp_path / "ssf-keys")
    key = ring.generate("ES256", NOW)
    other = ring.generate("ES256", NOW)
    meta_path = ring.folder / f"{key.kid}.json"
    meta = json.loads(meta_path.read_text())
    meta["jwk"] = json.loads((ring.folder / f"{other.kid}.json").read_text())["jwk"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(SsfKeyError, match="does not match"):
        ring.jwks()


def test_an_unknown_algorithm_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SsfKeyError):
        SsfKeyRing(tmp_path / "ssf-keys").generate("HS256", NOW)
