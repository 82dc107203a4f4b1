"""The Transmitter Configuration Metadata (SSF §7.1), served at
``/.well-known/ssf-configuration``, and the JWKS its ``jwks_uri`` names. Every
URL is built from the configured public origin, which is also the issuer and
every SET's ``iss``."""

from __future__ import annotations

from typing import Any, Final

from custos.domain.shared_signals import PUSH, SPEC_VERSION
from custos.service.ports import Services
from custos.service.shared_signals.keys import key_ring
from custos.service.shared_signals.outbox import issuer

#: Where the management endpoints are served, below the public origin.
JWKS_PATH: Final = "/api/v1/ssf/jwks"
STREAMS_PATH: Final = "/api/v1/ssf/streams"
STATUS_PATH: Final = "/api/v1/ssf/status"
VERIFY_PATH: Final = "/api/v1/ssf/verify"
#: The management API takes an operator token as ``Authorization: Bearer``
#: (RFC 6750 syntax); Custos is not an OAuth authorization server.
BEARER: Final = "urn:ietf:rfc:6750"


def configuration(svc: Services) -> dict[str, Any]:
    """The metadata document. ``default_subjects`` is ALL: every subject is in
    every stream; there are no add/remove subject endpoints."""
    origin = issuer(svc)
    return {
        "spec_version": SPEC_VERSION,
        "issuer": origin,
        "jwks_uri": f"{origin}{JWKS_PATH}",
        "delivery_methods_supported": [PUSH],
        "configuration_endpoint": f"{origin}{STREAMS_PATH}",
        "status_endpoint": f"{origin}{STATUS_PATH}",
        "verification_endpoint": f"{origin}{VERIFY_PATH}",
        "authorization_schemes": [{"spec_urn": BEARER}],
        "default_subjects": "ALL",
    }


def jwks(svc: Services) -> dict[str, Any]:
    """The public keys SETs are signed with (every key in the ring)."""
    return key_ring(svc).jwks()
