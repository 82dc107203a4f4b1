"""WebAuthn ceremonies (W3C WebAuthn Level 2) through py_webauthn: options out,
verification in. Phishing-resistant: the browser binds every response to the
origin and the authenticator to the RP id, both taken from ``public_origin``.

Nothing here stores anything: the caller keeps each challenge (single use,
bound to a session or a case, CHALLENGE_TTL) and each credential's public key
and signature counter. Verification raises :class:`WebAuthnRejected` with a
reason for the ledger (never shown to an unauthenticated caller).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import (
    InvalidAuthenticationResponse,
    InvalidJSONStructure,
    InvalidRegistrationResponse,
    WebAuthnException,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

CHALLENGE_TTL: Final = timedelta(minutes=5)
CHALLENGE_BYTES: Final = 32
TIMEOUT_MS: Final = 120_000
RP_NAME: Final = "Custos"
MAX_RESPONSE_CHARS: Final = 16_384


class WebAuthnRejected(Exception):
    """A registration or assertion did not verify; ``str()`` says why."""


@dataclass(frozen=True, slots=True)
class RelyingParty:
    id: str
    origin: str

    @classmethod
    def from_origin(cls, public_origin: str) -> RelyingParty:
        """The RP id is the host of the configured public origin (no port)."""
        host = urlsplit(public_origin).hostname
        if not host:
            raise ValueError(f"no host in public origin {public_origin!r}")
        return cls(id=host, origin=public_origin.rstrip("/"))


@dataclass(frozen=True, slots=True)
class Options:
    """Options JSON for the browser and the raw challenge to store."""

    json: dict[str, Any]
    challenge: bytes


@dataclass(frozen=True, slots=True)
class NewCredential:
    credential_id: str  # base64url
    public_key: bytes  # COSE
    sign_count: int
    user_verified: bool


@dataclass(frozen=True, slots=True)
class Assertion:
    credential_id: str
    new_sign_count: int
    user_verified: bool


def new_challenge() -> bytes:
    return secrets.token_bytes(CHALLENGE_BYTES)


def b64(data: bytes) -> str:
    return bytes_to_base64url(data)


def unb64(text: str) -> bytes:
    return base64url_to_bytes(text)


def registration_options(
    rp: RelyingParty,
    *,
    user_handle: bytes,
    user_name: str,
    display_name: str,
    exclude: list[str],
    require_uv: bool,
) -> Options:
    """Creation options: ES256/EdDSA/RS256, no attestation, existing credentials
    excluded, user verification required or preferred."""
    challenge = new_challenge()
    uv = (
        UserVerificationRequirement.REQUIRED
        if require_uv
        else UserVerificationRequirement.PREFERRED
    )
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_id=user_handle,
        user_name=user_name,
        user_display_name=display_name,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED, user_verification=uv
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in exclude
        ],
    )
    return Options(json=json.loads(options_to_json(options)), challenge=challenge)


def authentication_options(rp: RelyingParty, *, allow: list[str], require_uv: bool) -> Options:
    challenge = new_challenge()
    uv = (
        UserVerificationRequirement.REQUIRED
        if require_uv
        else UserVerificationRequirement.PREFERRED
    )
    options = generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge,
        timeout=TIMEOUT_MS,
        allow_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in allow],
        user_verification=uv,
    )
    return Options(json=json.loads(options_to_json(options)), challenge=challenge)


def parse_response(text: str) -> dict[str, Any]:
    """The credential JSON a browser sent. Raises WebAuthnRejected when it is not
    a JSON object of sane size with an ``id`` and a client data challenge."""
    if len(text) > MAX_RESPONSE_CHARS:
        raise WebAuthnRejected("response too large")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise WebAuthnRejected("response is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise WebAuthnRejected("response is not a public key credential")
    return data


def challenge_of(response: dict[str, Any]) -> str:
    """The base64url challenge the client data of ``response`` answers (unverified:
    only to find the stored challenge). Raises WebAuthnRejected."""
    try:
        client_data = json.loads(base64url_to_bytes(str(response["response"]["clientDataJSON"])))
        return str(client_data["challenge"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WebAuthnRejected("client data is malformed") from exc


def verify_registration(
    rp: RelyingParty, response: dict[str, Any], *, challenge: bytes, require_uv: bool
) -> NewCredential:
    try:
        verified = verify_registration_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=require_uv,
        )
    except (InvalidRegistrationResponse, InvalidJSONStructure, WebAuthnException) as exc:
        raise WebAuthnRejected(str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise WebAuthnRejected("registration response is malformed") from exc
    return NewCredential(
        credential_id=b64(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        user_verified=verified.user_verified,
    )


def verify_assertion(
    rp: RelyingParty,
    response: dict[str, Any],
    *,
    challenge: bytes,
    public_key: bytes,
    sign_count: int,
    require_uv: bool,
) -> Assertion:
    """Verify signature, challenge, origin, RP id hash, UP (and UV when required)
    and the counter: a counter that does not grow (when either side is non-zero)
    is refused as a possibly cloned authenticator."""
    try:
        verified = verify_authentication_response(
            credential=response,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=require_uv,
        )
    except (InvalidAuthenticationResponse, InvalidJSONStructure, WebAuthnException) as exc:
        raise WebAuthnRejected(str(exc)) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise WebAuthnRejected("assertion is malformed") from exc
    return Assertion(
        credential_id=b64(verified.credential_id),
        new_sign_count=verified.new_sign_count,
        user_verified=verified.user_verified,
    )
