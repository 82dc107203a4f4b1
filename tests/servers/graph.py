"""A local stand-in for Microsoft Entra ID: the identity platform's v2.0 token
endpoint (with its OpenID configuration, which MSAL reads) and the Microsoft
Graph v1.0 operations the Entra ID connector uses, over HTTPS on 127.0.0.1.

Every request is validated against :mod:`servers.graph_schemas` (written from
Microsoft's published descriptions); one that does not match answers 400 with
Graph's error shape and is recorded in ``failures``, which the tests assert is
empty. Answers follow the documented shapes, field names and status codes.
Users live in memory; ``can_login`` compares the stored password (Graph has no
login operation). A password shorter than 12 characters is refused as Graph
refuses one that breaks the tenant's rules.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from contract_harness import Harness
from pydantic import SecretStr

from custos.config import EntraTarget, SecretSource
from custos.connectors.entra import EntraConnector
from servers.cloud_base import Answer, CloudServer, Invalid, Request, validated
from servers.graph_schemas import (
    NoQuery,
    TemporaryAccessPassCreate,
    TokenRequest,
    UserQuery,
    UserUpdate,
)
from servers.tls import TlsFiles, make_tls_files

TENANT = "c0ffee00-0000-4000-8000-000000000001"
MIN_PASSWORD = 12
POLICY_MESSAGE = (
    "The specified password does not comply with password complexity requirements. "
    "Please provide a different password."
)
METHOD_COLLECTIONS = {
    "fido2Methods": "#microsoft.graph.fido2AuthenticationMethod",
    "microsoftAuthenticatorMethods": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "softwareOathMethods": "#microsoft.graph.softwareOathAuthenticationMethod",
    "phoneMethods": "#microsoft.graph.phoneAuthenticationMethod",
    "emailMethods": "#microsoft.graph.emailAuthenticationMethod",
    "temporaryAccessPassMethods": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
    "windowsHelloForBusinessMethods": (
        "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod"
    ),
}
PASSWORD_METHOD_ID = "28c10230-6103-485e-b985-444c60001490"  # Graph's fixed id for it


def strong_password() -> str:
    return "Aa1-" + secrets.token_urlsafe(18)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Answer:
    body = {"error": {"code": code, "message": message, "innerError": {"date": _now()}}}
    return Answer(status, body, headers or {})


@dataclass
class GraphUser:
    id: str
    upn: str
    password: str
    enabled: bool = True
    synced: bool = False
    force_change: bool = False
    changed: str = field(default_factory=_now)
    revocations: int = 0
    methods: dict[str, str] = field(default_factory=dict)  # method id -> @odata.type


class GraphServer(CloudServer):
    name = "graph"

    def __init__(self, tls: TlsFiles) -> None:
        super().__init__(tls)
        self.client_id = str(uuid.uuid4())
        self.client_secret = secrets.token_urlsafe(24)
        self.users: dict[str, GraphUser] = {}
        self._tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self._users_lock = threading.Lock()
        #: Every Temporary Access Pass created: (upn, the validated request body,
        #: the pass's secret), so tests can look for the value where it must not be.
        self.passes_issued: list[tuple[str, TemporaryAccessPassCreate, str]] = []

    # -- the tenant, read and written directly ----------------------------------------
    @property
    def graph_url(self) -> str:
        return f"{self.origin}/v1.0"

    def add_user(self, upn: str, password: str, *, synced: bool = False) -> GraphUser:
        user = GraphUser(str(uuid.uuid4()), upn, password, synced=synced)
        with self._users_lock:
            self.users[user.id] = user
        return user

    def user(self, upn: str) -> GraphUser | None:
        with self._users_lock:
            return next((u for u in self.users.values() if u.upn.lower() == upn.lower()), None)

    def can_login(self, upn: str, password: str) -> bool:
        user = self.user(upn)
        return (
            user is not None
            and user.enabled
            and secrets.compare_digest(user.password.encode(), password.encode())
        )

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (as an expired one)."""
        with self.lock:
            self._tokens.clear()

    def target(self, **overrides: Any) -> EntraTarget:
        fields: dict[str, Any] = {
            "kind": "entra",
            "tenant_id": TENANT,
            "client_id": self.client_id,
            "client_secret": SecretSource(value=SecretStr(self.client_secret)),
            "authority_host": self.origin,
            "graph_url": self.graph_url,
            "ca_file": Path(self.ca_file),
            "timeout_s": 5,
            "max_retry_after_s": 2,
        }
        fields.update(overrides)
        return EntraTarget(**fields)

    # -- routing -----------------------------------------------------------------
    def invalid(self, message: str) -> Answer:
        return _error(
            400, "Request_BadRequest", f"request does not match the description: {message}"
        )

    def route(self, request: Request) -> Answer:
        path = request.path
        if path == f"/{TENANT}/v2.0/.well-known/openid-configuration" and request.method == "GET":
            return Answer(200, self._openid_configuration())
        if path == f"/{TENANT}/oauth2/v2.0/token" and request.method == "POST":
            return self._token(request)
        if not path.startswith("/v1.0/"):
            raise Invalid(f"no such operation: {request.method} {path}")
        if not self._authorized(request):
            return _error(
                401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
            )
        return self._graph(request, path.removeprefix("/v1.0"))

    def _openid_configuration(self) -> dict[str, Any]:
        base = f"{self.origin}/{TENANT}"
        return {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "jwks_uri": f"{self.origin}/{TENANT}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "tenant_region_scope": "EU",
        }

    def _token(self, request: Request) -> Answer:
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            raise Invalid("the token request is not form-encoded")
        form = validated(TokenRequest, request.form())
        if form.client_id != self.client_id or not secrets.compare_digest(
            form.client_secret, self.client_secret
        ):
            return Answer(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided. "
                    "Ensure the secret being sent in the request is the client secret value.",
                    "error_codes": [7000215],
                    "timestamp": _now(),
                },
            )
        token = secrets.token_urlsafe(32)
        with self.lock:
            self._tokens[token] = time.monotonic() + 3599
            self.tokens_issued += 1
        return Answer(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            },
        )

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            expiry = self._tokens.get(token)
        return scheme == "Bearer" and expiry is not None and time.monotonic() < expiry

    def _graph(self, request: Request, path: str) -> Answer:
        method = request.method
        if path == "/users" and method == "GET":
            validated(UserQuery, request.query)
            with self._users_lock:
                listed = [self._user_json(u, request.query) for u in self.users.values()]
            return Answer(
                200, {"@odata.context": f"{self.graph_url}/$metadata#users", "value": listed}
            )
        match = re.fullmatch(r"/users/([^/]+)(/.*)?", path)
        if match is None:
            raise Invalid(f"no such operation: {method} {path}")
        key, rest = unquote(match.group(1)), match.group(2) or ""
        user = self._find(key)
        if user is None:
            return _error(
                404,
                "Request_ResourceNotFound",
                f"Resource '{key}' does not exist or one of its queried reference-property "
                "objects are not present.",
            )
        if rest == "" and method == "GET":
            validated(UserQuery, request.query)
            return Answer(200, self._user_json(user, request.query))
        validated(NoQuery, request.query)
        if rest == "" and method == "PATCH":
            if key != user.id:
                raise Invalid("writes address the user by object id in this connector")
            return self._update(user, request)
        if rest == "/revokeSignInSessions" and method == "POST":
            if request.body:
                raise Invalid("revokeSignInSessions takes no request body")
            user.revocations += 1
            return Answer(
                200, {"@odata.context": f"{self.graph_url}/$metadata#Edm.Boolean", "value": True}
            )
        return self._methods(user, method, rest, request)

    def _update(self, user: GraphUser, request: Request) -> Answer:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise Invalid("PATCH /users/{id} needs Content-Type: application/json")
        update = validated(UserUpdate, request.json())
        profile = update.passwordProfile
        if profile.password is not None:
            if user.synced:
                # Not Graph's rule, Custos's: a synced user's password is AD's.
                with self.lock:
                    self.failures.append(f"password written for synced user {user.upn}")
            if len(profile.password) < MIN_PASSWORD:
                return _error(400, "Request_BadRequest", POLICY_MESSAGE)
            user.password = profile.password
            user.changed = _now()
        if profile.forceChangePasswordNextSignIn is not None:
            user.force_change = profile.forceChangePasswordNextSignIn
        return Answer(204)

    def _methods(self, user: GraphUser, method: str, rest: str, request: Request) -> Answer:
        if rest == "/authentication/methods" and method == "GET":
            values = [{"@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
                       "id": PASSWORD_METHOD_ID, "password": None,
                       "createdDateTime": None}]  # fmt: skip
            values += [{"@odata.type": t, "id": i} for i, t in user.methods.items()]
            return Answer(200, {"value": values})
        tap_type = METHOD_COLLECTIONS["temporaryAccessPassMethods"]
        if rest == "/authentication/temporaryAccessPassMethods" and method == "GET":
            taps = [{"id": i, "isUsable": True} for i, t in user.methods.items() if t == tap_type]
            return Answer(200, {"value": taps})
        if rest == "/authentication/temporaryAccessPassMethods" and method == "POST":
            created = validated(TemporaryAccessPassCreate, request.json())
            for existing in [i for i, t in user.methods.items() if t == tap_type]:
                del user.methods[existing]  # one usable pass per user: the new one replaces it
            method_id = str(uuid.uuid4())
            user.methods[method_id] = tap_type
            secret = secrets.token_urlsafe(12)
            with self.lock:
                self.passes_issued.append((user.upn, created, secret))
            return Answer(
                201,
                {
                    "@odata.type": tap_type,
                    "id": method_id,
                    "temporaryAccessPass": secret,
                    "createdDateTime": _now(),
                    "startDateTime": _now(),
                    "lifetimeInMinutes": created.lifetimeInMinutes or 60,
                    "isUsableOnce": bool(created.isUsableOnce),
                    "isUsable": True,
                    "methodUsabilityReason": "EnabledByPolicy",
                },
            )
        match = re.fullmatch(r"/authentication/([A-Za-z0-9]+)/([^/]+)", rest)
        if match is not None and method == "DELETE":
            collection, method_id = match.groups()
            if collection not in METHOD_COLLECTIONS:
                raise Invalid(f"no authentication method collection '{collection}'")
            if user.methods.get(method_id) != METHOD_COLLECTIONS[collection]:
                return _error(404, "itemNotFound", f"method {method_id} not found")
            del user.methods[method_id]
            return Answer(204)
        raise Invalid(f"no such operation: {method} /users/{{id}}{rest}")

    def _find(self, key: str) -> GraphUser | None:
        with self._users_lock:
            if key in self.users:
                return self.users[key]
        return self.user(key)

    def _user_json(self, user: GraphUser, query: dict[str, str]) -> dict[str, Any]:
        full: dict[str, Any] = {
            "id": user.id,
            "userPrincipalName": user.upn,
            "accountEnabled": user.enabled,
            "lastPasswordChangeDateTime": user.changed,
            "onPremisesSyncEnabled": True if user.synced else None,
            "passwordProfile": {
                "password": None,
                "forceChangePasswordNextSignIn": user.force_change,
                "forceChangePasswordNextSignInWithMfa": False,
            },
            "displayName": user.upn.split("@")[0],
            "mail": user.upn,
        }
        selected = query.get("$select")
        if selected is None:  # Graph's default set leaves these out
            return {k: full[k] for k in ("id", "userPrincipalName", "displayName", "mail")}
        return {k: full[k] for k in selected.split(",")}


@pytest.fixture(scope="session")
def graph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphServer]:
    folder = tmp_path_factory.mktemp("graph-tls")
    server = GraphServer(make_tls_files(folder, ca_name="Custos test Graph CA"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def entra_harness(graph_server: GraphServer) -> Iterator[Harness]:
    connector = EntraConnector("entra", graph_server.target())

    def create() -> tuple[str, str]:
        upn, password = f"user-{secrets.token_hex(4)}@contoso.test", strong_password()
        graph_server.add_user(upn, password)
        return upn, password

    yield Harness(
        kind="entra",
        connector=connector,
        create_account=create,
        can_login=graph_server.can_login,
        strong_password=strong_password,
    )
    connector.close()
    assert graph_server.failures == [], graph_server.failures
