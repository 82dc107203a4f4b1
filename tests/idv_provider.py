"""A fake identity-verification provider for re-proofing tests: real keys
(cryptography), a JWKS written to a file or served over loopback HTTPS (with
the throwaway CA of servers/tls.py), and JWTs signed with PyJWT."""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import Algorithm, ECAlgorithm, OKPAlgorithm, RSAAlgorithm
from servers.tls import TlsFiles, make_tls_files

ISSUER = "https://idv.example.net"
AUDIENCE = "custos-test"
ATTRIBUTES = {
    "given_name": "Bob",
    "family_name": "Müller",
    "birthdate": "1985-04-12",
    "employee_id": "E-1042",
}


def _new_key(alg: str) -> Any:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ed25519.Ed25519PrivateKey.generate()


def _public_jwk(alg: str, key: Any, kid: str) -> dict[str, Any]:
    codecs: dict[str, type[Algorithm]] = {
        "ES256": ECAlgorithm,
        "RS256": RSAAlgorithm,
        "EdDSA": OKPAlgorithm,
    }
    codec = codecs[alg]
    jwk: dict[str, Any] = json.loads(codec.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


@dataclass
class Provider:
    """Signing keys by kid and the JWKS that publishes them."""

    issuer: str = ISSUER
    keys: dict[str, tuple[str, Any]] = field(default_factory=dict)

    def add_key(self, alg: str = "ES256", kid: str | None = None) -> str:
        kid = kid or f"{alg.lower()}-{uuid.uuid4().hex[:8]}"
        self.keys[kid] = (alg, _new_key(alg))
        return kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [_public_jwk(alg, key, kid) for kid, (alg, key) in self.keys.items()]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()), encoding="utf-8")
        return path

    def sign(self, claims: dict[str, Any], kid: str, *, alg: str | None = None) -> str:
        key_alg, key = self.keys[kid]
        return jwt.encode(claims, key, algorithm=alg or key_alg, headers={"kid": kid})


def claims(
    now: datetime,
    *,
    ial: int = 2,
    attributes: dict[str, str] | None = None,
    attended: bool = False,
    biometric: bool = False,
    evidence: list[dict[str, Any]] | None = None,
    issuer: str = ISSUER,
    audience: str = AUDIENCE,
    age: timedelta = timedelta(seconds=5),
    lifetime: timedelta = timedelta(minutes=10),
    jti: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The claims of a result issued ``age`` ago by a provider at ``now``."""
    issued = now - age
    return {
        "iss": issuer,
        "aud": audience,
        "sub": "idv-subject-7",
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
        "jti": jti or uuid.uuid4().hex,
        "ial": ial,
        "attended": attended,
        "biometric_comparison": biometric,
        "evidence": evidence
        if evidence is not None
        else [{"strength": "STRONG"}, {"strength": "FAIR"}],
        "verified_attributes": dict(ATTRIBUTES if attributes is None else attributes),
        **extra,
    }


def provider_settings(**source: Any) -> dict[str, Any]:
    """``proofing`` settings with one provider named ``acme`` reading ``source``."""
    return {
        "providers": {
            "acme": {
                "issuer": ISSUER,
                "audience": AUDIENCE,
                "algorithms": ["ES256", "RS256", "EdDSA"],
                "max_token_age_s": 600,
                **source,
            }
        }
    }


class JwksServer:
    """Serves one JWKS document over HTTPS on 127.0.0.1; counts the requests."""

    def __init__(self, folder: Path, document: dict[str, Any]) -> None:
        self.document = document
        self.requests = 0
        self.tls: TlsFiles = make_tls_files(folder)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                body = json.dumps(server.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"


@contextmanager
def jwks_server(folder: Path, document: dict[str, Any]) -> Iterator[JwksServer]:
    server = JwksServer(folder, document)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
