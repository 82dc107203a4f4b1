"""The device cookie of the self-service API: a random device id with an HMAC
tag (a subkey of the master key), so Custos can tell a device it has seen before
(the ``new_device`` risk signal) and nobody can forge one's id.

Cookie ``custos_device`` = ``<id>.<tag>``: 128 random bits (base64url), the tag
the hex HMAC-SHA256 of the id. Only a keyed digest of the id is ever stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Final

from fastapi import Request, Response

from custos.service.ports import Services

COOKIE: Final = "custos_device"
MAX_AGE_S: Final = 400 * 24 * 3600  # the longest lifetime browsers honour
_PURPOSE: Final = "custos/device-cookie/v1"


def _key(svc: Services) -> bytes:
    return svc.key.subkey(_PURPOSE)


def _tag(key: bytes, device_id: str) -> str:
    return hmac.new(key, b"tag\x00" + device_id.encode(), hashlib.sha256).hexdigest()


def device_digest(svc: Services, device_id: str) -> str:
    """What is stored for a device: a keyed digest, never the id itself."""
    return hmac.new(_key(svc), b"digest\x00" + device_id.encode(), hashlib.sha256).hexdigest()


def read(svc: Services, request: Request) -> str | None:
    """The device id of a validly signed cookie, or None (absent, malformed, forged)."""
    value = request.cookies.get(COOKIE, "")
    device_id, _, tag = value.partition(".")
    if not device_id or len(device_id) > 64 or not tag:
        return None
    expected = _tag(_key(svc), device_id)
    return device_id if hmac.compare_digest(expected.encode(), tag.encode()) else None


def ensure(svc: Services, request: Request, response: Response) -> str:
    """The request's device id; a new one is issued (and the cookie set on
    ``response``) when the request carried none that verifies."""
    device_id = read(svc, request)
    if device_id is None:
        device_id = secrets.token_urlsafe(16)
        response.set_cookie(
            COOKIE,
            f"{device_id}.{_tag(_key(svc), device_id)}",
            max_age=MAX_AGE_S,
            httponly=True,
            secure=svc.settings.public_origin.startswith("https://"),
            samesite="strict",
            path="/api/v1/self-service",
        )
    return device_id
