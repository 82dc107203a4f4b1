"""A local stand-in for an Okta org: the Management API operations the Okta
connector uses (``/api/v1/users`` ...) and the org authorization server's token
endpoint (``/oauth2/v1/token``, client credentials with private_key_jwt), over
HTTPS on 127.0.0.1.

Every request is validated against :mod:`servers.okta_schemas` (written from
Okta's published OpenAPI descriptions, release 2026.06.3); one that does not
match answers 400 with Okta's error shape and is recorded in ``failures``, which
the tests assert is empty. Answers follow the documented shapes, field names and
status codes, carry Okta's ``X-Rate-Limit-*`` headers, and errors carry
``errorCode``/``errorSummary``/``errorLink``/``errorId``/``errorCauses``.
Users live in memory; ``can_login`` compares the stored password for a user
whose status lets it sign in (Okta's sign-in is not part of this API). The
password policy asks for 12 characters and refuses the current password, as an
org's policy with history does.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import jwt
import pytest
from contract_harness import Harness
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from custos.config import OktaTarget, SecretSource
from custos.connectors.okta import OktaConnector
from servers.cloud_base import Answer, CloudServer, Invalid, Request, validated
from servers.okta_schemas import (
    ListUsersQuery,
    NoQuery,
    RevokeSessionsQuery,
    TokenRequest,
    UnenrollFactorQuery,
    UpdateUserQuery,
    UpdateUserRequest,
)
from servers.tls import TlsFiles, make_tls_files

MIN_PASSWORD = 12
RATE_LIMIT = 600
GRANTED_SCOPES = frozenset({"okta.users.manage", "okta.users.read"})
SIGN_IN_STATUSES = frozenset({"ACTIVE", "PASSWORD_EXPIRED"})
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def strong_password() -> str:
    return "Aa1-" + secrets.token_urlsafe(18)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _okta_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(17))


def okta_error(
    status: int,
    code: str,
    summary: str,
    causes: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    body = {
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": "oae" + secrets.token_urlsafe(16),
        "errorCauses": [{"errorSummary": c} for c in causes or []],
    }
    return Answer(status, body, headers or {})


def rate_limited(reset_in_s: int) -> Answer:
    """Okta's 429: E0000047 and the X-Rate-Limit-* headers (no Retry-After)."""
    return okta_error(
        429,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
        headers={
            "X-Rate-Limit-Limit": str(RATE_LIMIT),
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": str(int(time.time()) + reset_in_s),
        },
    )


@dataclass
class OktaFactor:
    id: str
    factor_type: str
    provider: str = "OKTA"
    status: str = "ACTIVE"


@dataclass
class OktaUser:
    id: str
    login: str
    password: str
    status: str = "ACTIVE"
    provider: str = "OKTA"
    password_changed: str = field(default_factory=_now)
    last_updated: str = field(default_factory=_now)
    sessions: set[str] = field(default_factory=set)
    oauth_tokens: set[str] = field(default_factory=set)
    factors: dict[str, OktaFactor] = field(default_factory=dict)
    profile: dict[str, Any] = field(default_factory=dict)


class OktaServer(CloudServer):
    name = "okta"

    def __init__(self, tls: TlsFiles) -> None:
        super().__init__(tls)
        self.api_token = "00" + secrets.token_urlsafe(30)
        self.client_id = "0oa" + secrets.token_hex(8)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = secrets.token_hex(6)
        self.users: dict[str, OktaUser] = {}
        self.max_page = 200
        self.tokens_issued = 0
        self._tokens: dict[str, tuple[float, frozenset[str]]] = {}
        self._jtis: set[str] = set()
        self._users_lock = threading.Lock()

    # -- the org, read and written directly ----------------------------------------
    @property
    def private_key_pem(self) -> str:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def add_user(
        self, login: str, password: str, *, status: str = "ACTIVE", provider: str = "OKTA"
    ) -> OktaUser:
        first, _, domain = login.partition("@")
        user = OktaUser(
            _okta_id("00u"),
            login,
            password,
            status=status,
            provider=provider,
            profile={
                "login": login,
                "email": login if domain else f"{login}@example.test",
                "firstName": first.split(".")[0].title(),
                "lastName": "Tester",
                "employeeNumber": str(secrets.randbelow(10**6)),
            },
        )
        with self._users_lock:
            self.users[user.id] = user
        return user

    def user(self, login: str) -> OktaUser | None:
        with self._users_lock:
            return next(
                (u for u in self.users.values() if u.login.casefold() == login.casefold()), None
            )

    def sign_in(self, login: str, password: str) -> str | None:
        """A new Okta session for the user when the password opens the account."""
        user = self.user(login)
        if user is None or not self.can_login(login, password):
            return None
        session = _okta_id("102")
        user.sessions.add(session)
        user.oauth_tokens.add(secrets.token_urlsafe(16))
        return session

    def can_login(self, login: str, password: str) -> bool:
        user = self.user(login)
        return (
            user is not None
            and user.status in SIGN_IN_STATUSES
            and secrets.compare_digest(user.password.encode(), password.encode())
        )

    def expire_tokens(self) -> None:
        """Every access token issued so far is refused from now on (as an expired one)."""
        with self.lock:
            self._tokens.clear()

    def target(self, **overrides: Any) -> OktaTarget:
        fields: dict[str, Any] = {
            "kind": "okta",
            "org_url": self.origin,
            "api_token": SecretSource(value=SecretStr(self.api_token)),
            "ca_file": Path(self.ca_file),
            "timeout_s": 5,
            "max_retry_after_s": 2,
        }
        fields.update(overrides)
        return OktaTarget(**fields)

    def oauth_target(self, **overrides: Any) -> OktaTarget:
        oauth = {
            "client_id": self.client_id,
            "private_key": {"value": self.private_key_pem},
            "key_id": self.key_id,
        }
        oauth.update(overrides.pop("oauth", {}))
        return self.target(api_token=None, oauth=oauth, **overrides)

    # -- routing -----------------------------------------------------------------
    def handle(self, request: Request) -> Answer:
        answer = super().handle(request)
        if not answer.headers.get("X-Rate-Limit-Limit"):  # Okta sends them on every answer
            answer.headers.update(
                {
                    "X-Rate-Limit-Limit": str(RATE_LIMIT),
                    "X-Rate-Limit-Remaining": str(RATE_LIMIT - 1),
                    "X-Rate-Limit-Reset": str(int(time.time()) + 60),
                }
            )
        return answer

    def invalid(self, message: str) -> Answer:
        return okta_error(
            400,
            "E0000003",
            "The request body was not well-formed.",
            [f"off the description: {message}"],
        )

    def route(self, request: Request) -> Answer:
        if request.path == "/oauth2/v1/token" and request.method == "POST":
            return self._token(request)
        if not request.path.startswith("/api/v1/users"):
            raise Invalid(f"no such operation: {request.method} {request.path}")
        if "application/json" not in request.headers.get("accept", ""):
            raise Invalid("the Management API needs Accept: application/json")
        scopes = self._authorized(request)
        if scopes is None:
            return okta_error(401, "E0000011", "Invalid token provided")
        needed = "okta.users.read" if request.method == "GET" else "okta.users.manage"
        if needed not in scopes:
            return okta_error(
                403,
                "E0000006",
                "You do not have permission to perform the requested action",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'
                },
            )
        return self._users_api(request)

    def _token(self, request: Request) -> Answer:
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            raise Invalid("the token request is not form-encoded")
        form = validated(TokenRequest, request.form())
        refusal = self._check_assertion(form.client_assertion)
        if refusal:
            return Answer(401, {"error": "invalid_client", "error_description": refusal})
        asked = frozenset(form.scope.split())
        if not asked <= GRANTED_SCOPES:
            missing = " ".join(sorted(asked - GRANTED_SCOPES))
            return Answer(
                400,
                {
                    "error": "invalid_scope",
                    "error_description": "The following scopes are not granted to the client: "
                    + missing,
                },
            )
        token = secrets.token_urlsafe(32)
        with self.lock:
            self._tokens[token] = (time.monotonic() + 3600, asked)
            self.tokens_issued += 1
        return Answer(
            200,
            {
                "token_type": "Bearer",
                "expires_in": 3600,
                "access_token": token,
                "scope": form.scope,
            },
        )

    def _check_assertion(self, assertion: str) -> str:
        """Okta's checks of a private_key_jwt assertion; '' when it passes."""
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                self._key.public_key(),
                algorithms=["RS256"],
                audience=f"{self.origin}/oauth2/v1/token",
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError:
            return "The client_assertion signature is invalid."
        if header.get("kid") not in (None, self.key_id):
            return "The client_assertion signature is invalid."
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
            return "The client_assertion token has an invalid issuer or subject."
        if claims["exp"] - int(time.time()) > 3600:
            return "The client_assertion token has an expiration too far in the future."
        with self.lock:
            if claims["jti"] in self._jtis:
                return "The client_assertion token has already been used."
            self._jtis.add(claims["jti"])
        return ""

    def _authorized(self, request: Request) -> frozenset[str] | None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme == "SSWS":
            # An API token acts with its admin's rights: every scope here.
            if secrets.compare_digest(credential.encode(), self.api_token.encode()):
                return GRANTED_SCOPES
            return None
        if scheme != "Bearer":
            return None
        with self.lock:
            found = self._tokens.get(credential)
        if found is None or time.monotonic() >= found[0]:
            return None
        return found[1]

    def _users_api(self, request: Request) -> Answer:
        method, path = request.method, request.path
        if path == "/api/v1/users" and method == "GET":
            return self._list(request)
        match = re.fullmatch(r"/api/v1/users/([^/]+)(/.*)?", path)
        if match is None:
            raise Invalid(f"no such operation: {method} {path}")
        key, rest = unquote(match.group(1)), match.group(2) or ""
        user = self._find(key)
        if user is None:
            return _not_found(key, "User")
        if rest == "" and method == "GET":
            validated(NoQuery, request.query)
            return Answer(200, self._user_json(user))
        if key != user.id:
            raise Invalid("writes address the user by id in this connector")
        if rest == "" and method == "POST":
            validated(UpdateUserQuery, request.query)
            return self._update(user, request)
        if rest.startswith("/lifecycle/") and method == "POST":
            validated(NoQuery, request.query)
            if request.body:
                raise Invalid(f"{rest} takes no request body")
            return self._lifecycle(user, rest.removeprefix("/lifecycle/"))
        if rest == "/sessions" and method == "DELETE":
            query = validated(RevokeSessionsQuery, request.query)
            user.sessions.clear()
            if query.oauthTokens == "true":
                user.oauth_tokens.clear()
            return Answer(204)
        return self._factors(user, method, rest, request)

    def _list(self, request: Request) -> Answer:
        query = validated(ListUsersQuery, request.query)
        with self._users_lock:
            everyone = sorted(self.users.values(), key=lambda u: u.id)
        if query.filter is not None:
            found = re.fullmatch(r'profile\.login eq "((?:[^"\\]|\\.)*)"', query.filter)
            if found is None:
                raise Invalid(f"filter this connector does not send: {query.filter}")
            login = found.group(1).replace('\\"', '"')
            everyone = [u for u in everyone if u.login == login]  # filters are case-sensitive
        else:
            everyone = [u for u in everyone if u.status != "DEPROVISIONED"]
        if query.after:
            everyone = [u for u in everyone if u.id > query.after]
        limit = min(int(query.limit or 200), self.max_page)
        page, more = everyone[:limit], len(everyone) > limit
        base = f"{self.origin}/api/v1/users"
        links = [f'<{base}?limit={limit}>; rel="self"']
        if more:
            links.append(f'<{base}?after={quote(page[-1].id)}&limit={limit}>; rel="next"')
        return Answer(200, [self._user_json(u) for u in page], {"Link": ", ".join(links)})

    def _update(self, user: OktaUser, request: Request) -> Answer:
        if not request.headers.get("content-type", "").startswith("application/json"):
            raise Invalid("POST /api/v1/users/{id} needs Content-Type: application/json")
        update = validated(UpdateUserRequest, request.json())
        password = update.credentials.password if update.credentials else None
        if password is not None and password.value is not None:
            if user.provider != "OKTA":
                # Not Okta's rule, Custos's: a directory-sourced user's password is the directory's.
                with self.lock:
                    self.failures.append(f"password written for {user.provider} user {user.login}")
            refused = self._password_policy(user, password.value)
            if refused:
                return okta_error(400, "E0000001", "Api validation failed: password", [refused])
            user.password = password.value
            user.password_changed = user.last_updated = _now()
            if user.status == "PASSWORD_EXPIRED":
                user.status = "ACTIVE"
        return Answer(200, self._user_json(user))

    def _password_policy(self, user: OktaUser, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            return (
                "password: Password requirements were not met. Password requirements: at "
                f"least {MIN_PASSWORD} characters."
            )
        if secrets.compare_digest(password.encode(), user.password.encode()):
            return "password: Password cannot be your current password"
        return ""

    def _lifecycle(self, user: OktaUser, operation: str) -> Answer:
        if operation == "expire_password":
            user.status, user.last_updated = "PASSWORD_EXPIRED", _now()
            return Answer(200, self._user_json(user))
        if operation == "unlock":
            if user.status != "LOCKED_OUT":
                return okta_error(403, "E0000032", "Unlock is not allowed for this user.")
            user.status = "ACTIVE"
            return Answer(200, {})
        if operation == "suspend":
            if user.status != "ACTIVE":
                return okta_error(
                    400,
                    "E0000001",
                    "Api validation failed: user",
                    ["user: Cannot suspend a user that is not active"],
                )
            user.status = "SUSPENDED"
            user.sessions.clear()
            return Answer(200, {})
        if operation == "unsuspend":
            if user.status != "SUSPENDED":
                return okta_error(
                    400,
                    "E0000001",
                    "Api validation failed: user",
                    ["user: Cannot unsuspend a user that is not suspended"],
                )
            user.status = "ACTIVE"
            return Answer(200, {})
        raise Invalid(f"no lifecycle operation '{operation}' in this connector's use")

    def _factors(self, user: OktaUser, method: str, rest: str, request: Request) -> Answer:
        if rest == "/factors" and method == "GET":
            validated(NoQuery, request.query)
            return Answer(200, [_factor_json(f) for f in user.factors.values()])
        match = re.fullmatch(r"/factors/([^/]+)", rest)
        if match is not None and method == "DELETE":
            validated(UnenrollFactorQuery, request.query)
            factor = user.factors.pop(match.group(1), None)
            if factor is None:
                return _not_found(match.group(1), "UserFactor")
            if factor.factor_type in ("push", "signed_nonce"):
                # Okta: unenrolling Okta Verify's push also unenrolls its TOTP and FastPass.
                for other in list(user.factors.values()):
                    if other.provider == "OKTA" and other.factor_type in (
                        "token:software:totp",
                        "push",
                        "signed_nonce",
                    ):
                        del user.factors[other.id]
            return Answer(204)
        raise Invalid(f"no such operation: {method} /api/v1/users/{{id}}{rest}")

    def _find(self, key: str) -> OktaUser | None:
        """By id, login, or login short name (the part before @), as Okta finds users."""
        with self._users_lock:
            if key in self.users:
                return self.users[key]
            for user in self.users.values():
                if user.login.casefold() == key.casefold():
                    return user
            for user in self.users.values():
                if user.login.split("@")[0].casefold() == key.casefold():
                    return user
        return None

    def _user_json(self, user: OktaUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "status": user.status,
            "created": "2026-01-05T09:00:00.000Z",
            "activated": "2026-01-05T09:00:00.000Z",
            "statusChanged": user.last_updated,
            "lastLogin": None,
            "lastUpdated": user.last_updated,
            "passwordChanged": user.password_changed,
            "type": {"id": "oty1a2b3c4d5e6f7g8h9"},
            "profile": dict(user.profile),
            "credentials": {
                "password": {},
                "provider": {"type": user.provider, "name": user.provider},
            },
            "_links": {"self": {"href": f"{self.origin}/api/v1/users/{user.id}"}},
        }


def _factor_json(factor: OktaFactor) -> dict[str, Any]:
    return {
        "id": factor.id,
        "factorType": factor.factor_type,
        "provider": factor.provider,
        "vendorName": factor.provider,
        "status": factor.status,
        "created": "2026-01-05T09:00:00.000Z",
        "lastUpdated": "2026-01-05T09:00:00.000Z",
        "profile": {},
    }


def _not_found(key: str, kind: str) -> Answer:
    return okta_error(404, "E0000007", f"Not found: Resource not found: {key} ({kind})")


@pytest.fixture(scope="session")
def okta_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OktaServer]:
    folder = tmp_path_factory.mktemp("okta-tls")
    server = OktaServer(make_tls_files(folder, ca_name="Custos test Okta CA"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def okta_harness(okta_server: OktaServer) -> Iterator[Harness]:
    connector = OktaConnector("okta", okta_server.target())

    def create() -> tuple[str, str]:
        login, password = f"user-{secrets.token_hex(4)}@example.test", strong_password()
        okta_server.add_user(login, password)
        return login, password

    yield Harness(
        kind="okta",
        connector=connector,
        create_account=create,
        can_login=okta_server.can_login,
        strong_password=strong_password,
    )
    connector.close()
    assert okta_server.failures == [], okta_server.failures
