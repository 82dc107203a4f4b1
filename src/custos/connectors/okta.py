"""The Okta connector: the Management API (``/api/v1/users``) of one org, with an
API token (``SSWS``) or an OAuth service app (``private_key_jwt``,
:mod:`okta_auth`); requests with httpx through :mod:`cloud_http`. Accounts are
named by ``profile.login``; every operation first reads the user
(``GET /api/v1/users/{login}``) for its id, status and credential provider,
with no cache.

* ``set_password``: ``POST /api/v1/users/{id}`` (partial update) with
  ``credentials.password.value``; ``must_change`` then expires it
  (``POST .../lifecycle/expire_password``), as ``force_change`` does.
* Directory-sourced users (``credentials.provider.type`` ACTIVE_DIRECTORY or
  LDAP: delegated authentication) get their password from the directory:
  ``hybrid = "cloud_only"`` refuses them, ``"directory_sourced"`` leaves the
  password to the directory's own target and says so.
* ``revoke_sessions``: ``DELETE /api/v1/users/{id}/sessions`` (every Okta
  session, and with ``revoke_oauth_tokens`` the OIDC/OAuth tokens Okta issued);
  Okta does not count them: the answer is 1.
* ``bound_factors`` / ``reset_factors``: ``/api/v1/users/{id}/factors``; a reset
  unenrolls each factor and reads back that none remains.
* ``find_account``: status ``LOCKED_OUT`` is locked, ``PASSWORD_EXPIRED`` must
  change, ``SUSPENDED``/``DEPROVISIONED``/``STAGED``/``PROVISIONED`` not enabled.
* ``unlock``: ``.../lifecycle/unlock`` for a locked-out user (nothing otherwise);
  ``set_enabled``: ``.../lifecycle/suspend`` and ``unsuspend``.
* ``list_accounts``: ``GET /api/v1/users?limit=200`` following ``Link: rel="next"``
  on the org's own origin only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from custos.config import OktaTarget
from custos.connectors.cloud_http import (
    CloudHttp,
    Dialect,
    RetryBounds,
    VendorError,
    json_array,
    json_object,
    stamp,
    tls_verify,
)
from custos.connectors.errors import ConnectorError, UnknownAccount, Unsupported
from custos.connectors.okta_auth import OktaTokens, api_token_authorization
from custos.connectors.okta_factors import Factor, factor_from
from custos.connectors.spi import AccountInfo, AccountRecord, TestStep

#: Okta's error codes that refuse a password (API validation failed on the
#: password, update of credentials failed, complexity not met).
PASSWORD_CODES = frozenset({"E0000001", "E0000014", "E0000080"})
DIRECTORY_PROVIDERS = frozenset({"ACTIVE_DIRECTORY", "LDAP"})
NOT_ENABLED = frozenset({"SUSPENDED", "DEPROVISIONED", "STAGED", "PROVISIONED"})
PAGE = 200


def _okta_error(response: httpx.Response) -> VendorError:
    """Okta's error body: ``errorCode``, ``errorSummary`` and ``errorCauses``
    (each with its own ``errorSummary``: the password rules are there)."""
    try:
        body = response.json()
    except ValueError:
        return VendorError("", response.text.strip()[:300])
    if not isinstance(body, dict):
        return VendorError("", "")
    causes = [
        str(c.get("errorSummary"))
        for c in body.get("errorCauses") or []
        if isinstance(c, dict) and c.get("errorSummary")
    ]
    summary = str(body.get("errorSummary") or "")
    message = "; ".join([summary, *causes]) if causes else summary
    return VendorError(str(body.get("errorCode") or ""), message)


def _password_rule(error: VendorError) -> bool:
    return error.code in PASSWORD_CODES and "password" in error.message.lower()


OKTA = Dialect("Okta", _okta_error, _password_rule)


def _stamp(value: object) -> datetime | None:
    return stamp(value, "Okta")


class OktaConnector:
    """Connector for the Okta org of target ``name``; thread-safe."""

    def __init__(self, name: str, cfg: OktaTarget) -> None:
        self.name = name
        self._cfg = cfg
        self._tokens: OktaTokens | None = None
        self._http = CloudHttp(
            name,
            cfg.base_url,
            dialect=OKTA,
            authorization=self._authorization,
            bounds=RetryBounds(cfg.max_retries, cfg.max_retry_after_s),
            verify=tls_verify(cfg.ca_file),
            timeout_s=cfg.timeout_s,
        )
        if cfg.oauth is not None:
            self._tokens = OktaTokens(name, cfg, self._http.client)

    def close(self) -> None:
        self._http.close()

    def _authorization(self, fresh: bool) -> str:
        if self._tokens is not None:
            return self._tokens.authorization(fresh)
        return api_token_authorization(self.name, self._cfg)

    # -- SPI ---------------------------------------------------------------------
    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        """Set the password (Okta's password policy judges it), then expire it when
        ``must_change``. A directory-sourced user is refused or left to its directory."""
        user = self._require(account_id)
        if self._directory_sourced(user, account_id):
            return (
                f"not written here: '{account_id}' is sourced from a directory "
                "(delegated authentication), whose target sets the password"
            )
        body = {"credentials": {"password": {"value": password}}}
        self._http.request("POST", self._path(user), body=body, account=account_id, secret=password)
        if must_change:
            self._expire(user, account_id)
            return "password set, change required at next sign-in"
        return "password set"

    def force_change(self, account_id: str) -> None:
        """Expire the password: Okta asks for a new one at the next sign-in."""
        user = self._require(account_id)
        if self._directory_sourced(user, account_id):
            raise Unsupported(
                f"'{account_id}' on Okta target '{self.name}' is sourced from a directory: "
                "force the change on the directory's target"
            )
        self._expire(user, account_id)

    def revoke_sessions(self, account_id: str) -> int:
        """End every Okta session of the user (and its OAuth tokens when
        configured); 1 (Okta does not count them)."""
        user = self._require(account_id)
        flag = "true" if self._cfg.revoke_oauth_tokens else "false"
        self._http.request(
            "DELETE",
            f"{self._path(user)}/sessions",
            params={"oauthTokens": flag},
            account=account_id,
        )
        return 1

    def password_changed_at(self, account_id: str) -> datetime | None:
        return _stamp(self._require(account_id).get("passwordChanged"))

    def find_account(self, account_id: str) -> AccountInfo | None:
        user = self._lookup(account_id)
        if user is None:
            return None
        status = str(user.get("status") or "")
        return AccountInfo(
            account_id=account_id,
            enabled=status not in NOT_ENABLED,
            locked=status == "LOCKED_OUT",
            must_change=status == "PASSWORD_EXPIRED",
            password_changed_at=_stamp(user.get("passwordChanged")),
        )

    def bound_factors(self, account_id: str) -> frozenset[str]:
        """The kinds of the user's active factors (``webauthn`` for WebAuthn and
        U2F, ``totp`` for software TOTP, Okta's ``factorType`` for others)."""
        return frozenset(f.kind for f in self.factors(account_id) if f.active)

    def reset_factors(self, account_id: str) -> int:
        """Unenroll every factor of the user and read back that none remains;
        returns how many were unenrolled (one that went with another, as Okta
        Verify's TOTP goes with its push, counts when it was listed)."""
        user = self._require(account_id)
        listed = self._factors(user, account_id)
        for factor in listed:
            try:
                self._http.request(
                    "DELETE",
                    f"{self._path(user)}/factors/{quote(factor.factor_id, safe='')}",
                    account=account_id,
                )
            except UnknownAccount:
                continue  # already gone with an earlier one
        remaining = self._factors(user, account_id)
        if remaining:
            kinds = ", ".join(sorted({f.kind for f in remaining}))
            raise ConnectorError(
                f"Okta target '{self.name}' still lists factors of '{account_id}' after the "
                f"reset: {kinds}"
            )
        return len(listed)

    def unlock(self, account_id: str) -> None:
        """Unlock a locked-out user; a user who is not locked out is left alone."""
        user = self._require(account_id)
        if user.get("status") == "LOCKED_OUT":
            self._lifecycle(user, "unlock", account_id)

    def set_enabled(self, account_id: str, enabled: bool) -> None:
        """Suspend (disable) or unsuspend (enable) the user; a deactivated user is
        Okta's to reactivate."""
        user = self._require(account_id)
        status = user.get("status")
        if status == "DEPROVISIONED":
            raise Unsupported(
                f"'{account_id}' is deactivated on Okta target '{self.name}': reactivate it in Okta"
            )
        if enabled and status == "SUSPENDED":
            self._lifecycle(user, "unsuspend", account_id)
        elif not enabled and status != "SUSPENDED":
            self._lifecycle(user, "suspend", account_id)

    def list_accounts(self) -> Iterator[AccountRecord]:
        """Every user the org lists (Okta leaves DEPROVISIONED users out), page by page."""
        path, params = "/api/v1/users", {"limit": str(PAGE)}
        while True:
            response = self._http.request("GET", path, params=params)
            for user in _json_list(response):
                record = _record(user)
                if record is not None:
                    yield record
            following = self._next_page(response)
            if following is None:
                return
            path, params = following

    def test(self) -> list[TestStep]:
        """With OAuth, a token from the org's authorization server; then one user
        read (proves okta.users.read or an API token's admin role)."""
        steps: list[TestStep] = []
        if self._tokens is not None:
            try:
                self._tokens.authorization(False)
            except ConnectorError as exc:
                return [TestStep("token", False, f"{exc}: {exc.answer}")]
            steps.append(
                TestStep("token", True, f"private_key_jwt accepted by {self._tokens.token_url}")
            )
        try:
            self._http.request("GET", "/api/v1/users", params={"limit": "1"})
        except ConnectorError as exc:
            steps.append(TestStep("read users", False, f"{exc}: {exc.answer}"))
        else:
            steps.append(
                TestStep("read users", True, f"GET {self._cfg.base_url}/api/v1/users answered")
            )
        return steps

    def check_alive(self) -> bool:
        try:
            self._http.request("GET", "/api/v1/users", params={"limit": "1"})
        except ConnectorError:
            return False
        return True

    # -- factors -------------------------------------------------------------------
    def factors(self, account_id: str) -> list[Factor]:
        return self._factors(self._require(account_id), account_id)

    def _factors(self, user: dict[str, Any], account_id: str) -> list[Factor]:
        response = self._http.request("GET", f"{self._path(user)}/factors", account=account_id)
        found = [factor_from(item) for item in _json_list(response)]
        return [f for f in found if f is not None]

    # -- helpers -----------------------------------------------------------------
    def _lookup(self, account_id: str) -> dict[str, Any] | None:
        """The user whose login is ``account_id``, or None. Okta also finds a user
        by id or login short name: only an exact (case-insensitive) login counts."""
        if (
            not account_id
            or any(c in account_id for c in '"\\')
            or account_id.strip() != account_id
        ):
            return None  # never a login Custos links, and would change the filter
        if "/" in account_id:  # Okta: such logins can only be found by a search
            response = self._http.request(
                "GET", "/api/v1/users", params={"filter": f'profile.login eq "{account_id}"'}
            )
            found = [
                u for u in _json_list(response) if _login(u).casefold() == account_id.casefold()
            ]
            return found[0] if len(found) == 1 else None
        try:
            response = self._http.request(
                "GET", f"/api/v1/users/{quote(account_id, safe='@')}", account=account_id
            )
        except UnknownAccount:
            return None
        user = _json(response)
        if not isinstance(user.get("id"), str):
            raise ConnectorError(f"Okta target '{self.name}' answered a user without an id")
        if _login(user).casefold() != account_id.casefold():
            return None
        return user

    def _require(self, account_id: str) -> dict[str, Any]:
        user = self._lookup(account_id)
        if user is None:
            raise UnknownAccount(f"no account '{account_id}' on Okta target '{self.name}'")
        return user

    def _path(self, user: dict[str, Any]) -> str:
        return f"/api/v1/users/{quote(str(user['id']), safe='')}"

    def _expire(self, user: dict[str, Any], account_id: str) -> None:
        response = self._lifecycle(user, "expire_password", account_id)
        if _json(response).get("status") != "PASSWORD_EXPIRED":
            raise ConnectorError(
                f"Okta target '{self.name}' did not confirm expiring the password of '{account_id}'"
            )

    def _lifecycle(self, user: dict[str, Any], operation: str, account_id: str) -> httpx.Response:
        return self._http.request(
            "POST", f"{self._path(user)}/lifecycle/{operation}", account=account_id
        )

    def _directory_sourced(self, user: dict[str, Any], account_id: str) -> bool:
        credentials = user.get("credentials")
        provider = credentials.get("provider") if isinstance(credentials, dict) else None
        kind = provider.get("type") if isinstance(provider, dict) else None
        if kind not in DIRECTORY_PROVIDERS:
            return False
        if self._cfg.hybrid == "cloud_only":
            raise Unsupported(
                f"'{account_id}' on Okta target '{self.name}' is sourced from {kind} "
                'but the target is configured hybrid = "cloud_only": its password must be '
                'set in the directory (configure hybrid = "directory_sourced" and its target)'
            )
        return True

    def _next_page(self, response: httpx.Response) -> tuple[str, dict[str, str]] | None:
        """The next page's path and query from ``Link: <...>; rel="next"``, only on
        the org's own origin (the token never goes anywhere else)."""
        url = response.links.get("next", {}).get("url")
        if not url:
            return None
        parts, own = urlsplit(url), urlsplit(self._cfg.base_url)
        if (parts.scheme, parts.netloc) != (own.scheme, own.netloc):
            raise ConnectorError(
                f"Okta target '{self.name}' pointed the next page elsewhere", answer=url[:300]
            )
        return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))


def _login(user: dict[str, Any]) -> str:
    profile = user.get("profile")
    login = profile.get("login") if isinstance(profile, dict) else None
    return login if isinstance(login, str) else ""


def _record(user: object) -> AccountRecord | None:
    if not isinstance(user, dict) or not _login(user):
        return None
    profile = user.get("profile")
    assert isinstance(profile, dict)
    attributes: dict[str, str] = {"id": str(user.get("id")), "status": str(user.get("status"))}
    values: dict[str, tuple[str, ...]] = {}
    for key, value in profile.items():
        if isinstance(value, str):
            attributes[key] = value
            values[key] = (value,)
        elif isinstance(value, list):
            values[key] = tuple(str(v) for v in value)
            if value:
                attributes[key] = str(value[0])
    return AccountRecord(account_id=_login(user), attributes=attributes, values=values)


def _json(response: httpx.Response) -> dict[str, Any]:
    return json_object(response, "Okta")


def _json_list(response: httpx.Response) -> list[Any]:
    return json_array(response, "Okta")
