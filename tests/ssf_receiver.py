"""A shared-signals receiver for tests: an RFC 8935 push endpoint on loopback
(``http.server`` in a thread) that checks every SET the way a relying party
would, against what Custos publishes: it reads the transmitter metadata over
HTTP from a live Custos (``tests/live_server.py``), takes its ``jwks_uri``,
fetches that JWKS and verifies the signature, the ``secevent+jwt`` type, the
issuer, the audience, the required claims, the absence of ``sub`` and ``exp``,
and that the SET holds exactly one event of a type it knows. A SET that passes
is answered 202; one that does not, 400 with the RFC 8935 ``err`` a receiver
would send. It can also be told to answer 400 with a given ``err`` whatever
it receives, serve https with a test certificate, and be stopped and started
again on the same port."""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
from servers.tls import TlsFiles

from custos.domain.shared_signals import (
    CREDENTIAL_CHANGE,
    SESSION_REVOKED,
    SET_MEDIA_TYPE,
    SET_TYPE,
    VERIFICATION,
)

KNOWN_EVENTS = frozenset({CREDENTIAL_CHANGE, SESSION_REVOKED, VERIFICATION})


@dataclass(frozen=True)
class Received:
    """One push: its headers (lower-case names), the SET's JOSE header and
    claims (read without trusting them), whether it verified, and why not."""

    headers: dict[str, str]
    content_type: str
    jose: dict[str, Any]
    claims: dict[str, Any]
    verified: bool
    problem: str | None = None

    @property
    def event_type(self) -> str:
        events: dict[str, Any] = self.claims["events"]
        return next(iter(events))

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = self.claims["events"][self.event_type]
        return event


@dataclass
class Receiver:
    """The receiver at ``http://127.0.0.1:<port>/events``, expecting SETs from
    ``issuer`` (whose metadata it fetches from ``metadata_url``) for ``audience``."""

    port: int
    issuer: str
    audience: str
    metadata_url: str
    #: When set, every push is answered 400 with this ``err``.
    refuse_with: str | None = None
    #: Serve https with this certificate (for 127.0.0.1) instead of http.
    tls: TlsFiles | None = None
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/events"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode("ascii", "replace")
                status, answer = receiver.handle(dict(self.headers.items()), body)
                payload = json.dumps(answer).encode() if answer else b""
                self.send_response(status)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def handle(self, headers: dict[str, str], token: str) -> tuple[int, dict[str, str] | None]:
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            jose = jwt.get_unverified_header(token)
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return 400, {"err": "invalid_request", "description": "not a JWT"}
        problem, err = self._verify(lower, token, jose, claims)
        with self._lock:
            self.received.append(
                Received(
                    headers=lower,
                    content_type=lower.get("content-type", ""),
                    jose=jose,
                    claims=claims,
                    verified=problem is None,
                    problem=problem,
                )
            )
        if self.refuse_with is not None:
            return 400, {"err": self.refuse_with, "description": "refused by the test receiver"}
        if problem is not None:
            return 400, {"err": err, "description": problem}
        return 202, None

    def _verify(
        self, headers: dict[str, str], token: str, jose: dict[str, Any], claims: dict[str, Any]
    ) -> tuple[str | None, str]:
        """(why the SET fails, its RFC 8935 err), or (None, "") when it passes."""
        if headers.get("content-type") != SET_MEDIA_TYPE:
            return f"content type {headers.get('content-type')}", "invalid_request"
        if jose.get("typ") != SET_TYPE:
            return f"typ {jose.get('typ')}", "invalid_request"
        metadata = httpx.get(self.metadata_url, timeout=10).json()
        if metadata["issuer"] != self.issuer:
            return f"metadata issuer {metadata['issuer']}", "invalid_issuer"
        jwks = httpx.get(metadata["jwks_uri"], timeout=10).json()
        keys = {k["kid"]: k for k in jwks["keys"]}
        if jose.get("kid") not in keys:
            return f"unknown kid {jose.get('kid')}", "invalid_key"
        jwk = keys[jose["kid"]]
        if jose.get("alg") != jwk["alg"] or "d" in jwk:
            return "algorithm mismatch or a private key published", "invalid_key"
        try:
            jwt.decode(
                token,
                jwt.PyJWK(jwk).key,
                algorithms=[jwk["alg"]],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["iss", "aud", "iat", "jti"]},
            )
        except jwt.InvalidAudienceError:
            return "audience", "invalid_audience"
        except jwt.InvalidIssuerError:
            return "issuer", "invalid_issuer"
        except jwt.InvalidSignatureError:
            return "signature", "invalid_key"
        except jwt.PyJWTError as exc:
            return f"{type(exc).__name__}: {exc}", "invalid_request"
        if "sub" in claims or "exp" in claims:
            return "sub or exp present", "invalid_request"
        events = claims.get("events")
        if not isinstance(events, dict) or len(events) != 1 or not set(events) <= KNOWN_EVENTS:
            return f"events {events}", "invalid_request"
        if not isinstance(claims.get("sub_id"), dict) or "format" not in claims["sub_id"]:
            return "sub_id", "invalid_request"
        return None, ""

    def of_type(self, event_type: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.event_type == event_type]
