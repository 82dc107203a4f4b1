"""A real SCIM 2.0 service provider on loopback for the contract suite and the SCIM
connector's integration tests.

The SCIM protocol is scim2-server's (its WSGI application over its in-memory
storage), served by wsgiref in a background thread. In front of it:

* authentication: ``Authorization: Bearer <token>`` must carry the static
  bearer token or a live token from the OAuth2 endpoint, else a SCIM 401;
* ``POST /oauth/token``: the OAuth 2.0 client-credentials grant (RFC 6749
  §4.4) for clients registered with ``oauth_client()``; each client's tokens
  live ``lifetime_s`` seconds, and the server counts the tokens it issued;
* a password policy: a password shorter than 12 characters is refused with a
  SCIM 400 ``invalidValue`` whose detail is ``POLICY_DETAIL``.

SCIM has no login operation, so ``can_login(user_name, password)`` reads the
storage: the user exists, is not ``active: false``, and the stored password
equals the one given. scim2-server's storage keeps the password as written
(write-only on the wire, RFC 7643 §4.1.1; a test server need not hash it);
a server that hashed it would be checked by verifying the hash instead.

Given ``TlsFiles`` (``servers.tls``), it serves HTTPS with that certificate.
``stop()`` and ``start()`` take the listener down and up again on the same port,
keeping the stored users, for fault tests. A server that cannot start fails the
test session; it never skips.
"""

from __future__ import annotations

import base64
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from contract_harness import Harness
from pydantic import SecretStr
from scim2_models import (
    Context,
    InvalidValueException,
    Resource,
    ResourceType,
    ScimProvider,
    UnauthorizedException,
    User,
)
from scim2_server.applications.wsgi import WSGIApplication
from scim2_server.conditions import Conditions
from scim2_server.memory import InMemoryStorage
from scim2_server.requests import ScimRequest
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.utils import (
    load_default_resource_types,
    load_default_schemas,
    load_default_service_provider_config,
)

from custos.config import ScimTarget, SecretSource
from custos.connectors.scim import ScimConnector
from servers.tls import TlsFiles

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from scim2_models import PatchOp

MIN_PASSWORD = 12
POLICY_DETAIL = f"password must be at least {MIN_PASSWORD} characters long"
TOKEN_PATH = "/oauth/token"


def strong_password() -> str:
    return "Aa1-" + secrets.token_urlsafe(18)


class _PolicyService(ScimService):
    """scim2-server's service with a minimum password length on every write."""

    def read_creation(
        self, resource_type: ResourceType, body: bytes, content_type: str | None
    ) -> Resource[Any]:
        created = super().read_creation(resource_type, body, content_type)
        _check_password(None, created)
        return created

    def apply_replacement(
        self, current: Resource[Any], replacement: Resource[Any], conditions: Conditions
    ) -> Resource[Any] | None:
        before = getattr(current, "password", None)
        replaced = super().apply_replacement(current, replacement, conditions)
        _check_password(before, replaced)
        return replaced

    def apply_patch(
        self, current: Resource[Any], patch_op: PatchOp[Any], conditions: Conditions
    ) -> Resource[Any] | None:
        before = getattr(current, "password", None)
        patched = super().apply_patch(current, patch_op, conditions)
        _check_password(before, patched)
        return patched


def _check_password(before: str | None, resource: Resource[Any] | None) -> None:
    after = getattr(resource, "password", None)
    if after is not None and after != before and len(after) < MIN_PASSWORD:
        raise InvalidValueException(detail=POLICY_DETAIL)


class _AuthenticatedScim(WSGIApplication):
    def __init__(self, storage: InMemoryStorage, provider: ScimProvider, server: ScimServer):
        super().__init__(storage, provider, _PolicyService(provider))
        self._server = server

    def check_auth(self, request: ScimRequest) -> None:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not self._server.accepts(token):
            raise UnauthorizedException(detail="missing or invalid bearer token")


@dataclass
class _OAuthClient:
    secret: str
    lifetime_s: int
    issued: int = 0


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class ScimServer:
    """scim2-server on 127.0.0.1 behind bearer-token auth and an OAuth2 endpoint."""

    def __init__(self, tls: TlsFiles | None = None) -> None:
        self._tls = tls
        self.bearer_token = secrets.token_urlsafe(24)
        self.storage = InMemoryStorage()
        config = load_default_service_provider_config()
        config.authentication_schemes = [BEARER_TOKEN_SCHEME]
        provider = ScimProvider.from_discovery(
            load_default_schemas().values(),
            load_default_resource_types().values(),
            config=config,
        )
        self._scim = _AuthenticatedScim(self.storage, provider, self)
        self._clients: dict[str, _OAuthClient] = {}
        self._tokens: dict[str, float] = {}  # issued token -> monotonic expiry
        self._lock = threading.Lock()
        self._httpd: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._httpd = make_server(
                "127.0.0.1", self.port, self._app, _ThreadingServer, _QuietHandler
            )
        except OSError as exc:
            pytest.fail(f"SCIM test server cannot listen on 127.0.0.1:{self.port}: {exc}")
        self.port = self._httpd.server_port
        if self._tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self._tls.cert_file, self._tls.key_file)
            self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="scim-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        assert self._thread is not None
        self._thread.join(timeout=5)
        self._httpd = None

    @property
    def tls(self) -> bool:
        return self._tls is not None

    @property
    def origin(self) -> str:
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v2"

    @property
    def token_url(self) -> str:
        return f"{self.origin}{TOKEN_PATH}"

    # -- authentication ------------------------------------------------------------
    def oauth_client(self, lifetime_s: int = 3600) -> tuple[str, str]:
        """Register an OAuth2 client; returns (client_id, client_secret)."""
        client_id, secret = f"client-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        with self._lock:
            self._clients[client_id] = _OAuthClient(secret, lifetime_s)
        return client_id, secret

    def tokens_issued(self, client_id: str) -> int:
        with self._lock:
            return self._clients[client_id].issued

    def accepts(self, token: str) -> bool:
        if secrets.compare_digest(token, self.bearer_token):
            return True
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    # -- the backend, read directly ---------------------------------------------------
    def user(self, user_name: str) -> Resource[Any] | None:
        """The stored user (password included), or None. Stored users are of a
        model scim2-server composes with their extensions, not ``User`` itself."""
        wanted = user_name.casefold()
        with self.storage.lock:  # the server's threads write concurrently
            for resource in self.storage.resources:
                if (getattr(resource, "user_name", None) or "").casefold() == wanted:
                    return resource.model_copy(deep=True)
        return None

    def can_login(self, user_name: str, password: str) -> bool:
        """SCIM has no login: the stored password matches and the user is active."""
        user = self.user(user_name)
        stored = getattr(user, "password", None)
        if user is None or getattr(user, "active", None) is False or stored is None:
            return False
        return secrets.compare_digest(stored.encode(), password.encode())

    def create_user(self, user_name: str, password: str) -> str:
        """Create an active user over SCIM (POST /Users); returns its SCIM id."""
        body = User(user_name=user_name, password=password, active=True).model_dump(
            scim_ctx=Context.RESOURCE_CREATION_REQUEST
        )
        response = httpx.post(
            f"{self.base_url}/Users",
            json=body,
            headers={"Authorization": f"Bearer {self.bearer_token}"},
            verify=ssl.create_default_context(cafile=self._tls.ca_file) if self._tls else True,
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    # -- WSGI ------------------------------------------------------------------------
    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == TOKEN_PATH:
            status, body = self._token(environ)
            start_response(status, [("Content-Type", "application/json"), *_NO_STORE])
            return [json.dumps(body).encode()]
        return self._scim(environ, start_response)

    def _token(self, environ: WSGIEnvironment) -> tuple[str, dict[str, Any]]:
        if environ["REQUEST_METHOD"] != "POST":
            return "405 Method Not Allowed", {"error": "invalid_request"}
        size = int(environ.get("CONTENT_LENGTH") or 0)
        form = dict(parse_qsl(environ["wsgi.input"].read(size).decode()))
        if form.get("grant_type") != "client_credentials":
            return "400 Bad Request", {"error": "unsupported_grant_type"}
        client_id, secret = _basic_credentials(environ.get("HTTP_AUTHORIZATION", ""))
        token = secrets.token_urlsafe(24)
        with self._lock:
            client = self._clients.get(client_id)
            if client is None or not secrets.compare_digest(client.secret, secret):
                return "401 Unauthorized", {"error": "invalid_client"}
            client.issued += 1
            self._tokens[token] = time.monotonic() + client.lifetime_s
        return "200 OK", {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": client.lifetime_s,
        }


_NO_STORE = [("Cache-Control", "no-store")]


def _basic_credentials(header: str) -> tuple[str, str]:
    """(client_id, client_secret) from HTTP Basic, form-decoded (RFC 6749 §2.3.1)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        decoded = base64.b64decode(encoded).decode()
    except ValueError:
        return "", ""
    client_id, _, secret = decoded.partition(":")
    return unquote_plus(client_id), unquote_plus(secret)


def scim_target(server: ScimServer, **auth: Any) -> ScimTarget:
    """A ScimTarget for ``server``; the static bearer token unless ``auth`` says
    otherwise. A server without TLS is on loopback and said to be allowed so."""
    if not auth:
        auth = {"bearer_token": SecretSource(value=SecretStr(server.bearer_token))}
    return ScimTarget(
        kind="scim",
        base_url=server.base_url,
        timeout_s=5,
        allow_insecure_transport=not server.tls,
        **auth,
    )


@pytest.fixture(scope="session")
def scim_server() -> Iterator[ScimServer]:
    server = ScimServer()
    server.start()
    try:
        response = httpx.get(f"{server.base_url}/ServiceProviderConfig", timeout=5)
    except httpx.HTTPError as exc:
        server.stop()
        pytest.fail(f"SCIM test server on {server.base_url} does not answer: {exc!r}")
    assert response.status_code == 200, response.text
    yield server
    server.stop()


@pytest.fixture(scope="session")
def scim_harness(scim_server: ScimServer) -> Iterator[Harness]:
    connector = ScimConnector("scim", scim_target(scim_server))

    def create() -> tuple[str, str]:
        account, password = f"user-{secrets.token_hex(4)}", strong_password()
        scim_server.create_user(account, password)
        return account, password

    yield Harness(
        kind="scim",
        connector=connector,
        create_account=create,
        can_login=scim_server.can_login,
        strong_password=strong_password,
    )
    connector.close()
