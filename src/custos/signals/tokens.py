"""Signing a Security Event Token (RFC 8417) as a compact JWS: explicitly typed
``secevent+jwt`` (SSF §4.1.1), naming the key that signed it (``kid``) so a
receiver finds it in the published JWKS."""

from __future__ import annotations

from collections.abc import Mapping

import jwt

from custos.domain.shared_signals import SET_TYPE
from custos.signals.keys import SigningKey


def sign_set(claims: Mapping[str, object], key: SigningKey) -> str:
    """The SET holding ``claims``, signed with ``key``."""
    return jwt.encode(
        dict(claims), key.private, algorithm=key.alg, headers={"typ": SET_TYPE, "kid": key.kid}
    )
