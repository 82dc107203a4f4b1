"""The Microsoft Entra ID connector: Microsoft Graph v1.0 with an app
registration's client credentials (tokens from MSAL, :mod:`entra_auth`; Graph
requests with httpx, :mod:`cloud_http`). Accounts are named by
userPrincipalName; every operation first reads the user
(``GET /users/{upn}``) for its object id and state, with no cache.

* ``set_password``: PATCH ``/users/{id}`` with ``passwordProfile``
  (``password``, ``forceChangePasswordNextSignIn``); ``force_change`` sends only
  the flag.
* Hybrid (``hybrid``): a user with ``onPremisesSyncEnabled`` gets its password
  from AD (password hash sync or writeback), so Custos never writes it here as
  well. ``cloud_only`` refuses such a user (the configuration does not expect
  one); ``ad_synced`` leaves the password to the AD target and answers so.
* ``revoke_sessions``: POST ``/users/{id}/revokeSignInSessions`` (every refresh
  token and session cookie). Graph does not count them: the answer is 1, the one
  revocation that covers them all.
* ``password_changed_at``: ``lastPasswordChangeDateTime``.
* ``bound_factors`` / ``authentication_methods`` / ``delete_authentication_methods``:
  ``/users/{id}/authentication/methods`` and the per-type delete endpoints.
* ``reset_factors`` (a reissue): every deletable method deleted (a Temporary
  Access Pass too), then the methods read back: none but the password may remain.
* ``issue_temporary_access_pass`` / ``delete_temporary_access_passes``:
  ``/users/{id}/authentication/temporaryAccessPassMethods``. A ``reissue`` tier
  with ``temporary_access_pass`` has the worker issue one after the factors
  were removed (service/recovery/temporary_access_pass.py).
* There is no lock state in Graph: ``find_account`` reports ``locked`` False.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from custos.config import EntraTarget
from custos.connectors.cloud_http import (
    CloudHttp,
    Dialect,
    RetryBounds,
    VendorError,
    json_object,
    stamp,
    tls_verify,
)
from custos.connectors.entra_auth import GraphTokens
from custos.connectors.entra_methods import (
    DELETE_COLLECTIONS,
    TAP_METHOD,
    AuthenticationMethod,
    TemporaryAccessPass,
    method_from,
)
from custos.connectors.errors import ConnectorError, Retryable, UnknownAccount, Unsupported
from custos.connectors.spi import AccountInfo, TestStep

#: What every read of a user asks for ($select; Graph returns little by default).
USER_FIELDS = (
    "id,userPrincipalName,accountEnabled,lastPasswordChangeDateTime,"
    "onPremisesSyncEnabled,passwordProfile"
)


def _graph_error(response: httpx.Response) -> VendorError:
    """Graph's error body: ``{"error": {"code": ..., "message": ...}}``."""
    try:
        body = response.json()
    except ValueError:
        return VendorError("", response.text.strip()[:300])
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return VendorError("", "")
    return VendorError(str(error.get("code") or ""), str(error.get("message") or ""))


def _password_rule(error: VendorError) -> bool:
    # Graph answers a refused password with Request_BadRequest naming the password.
    return error.code == "Request_BadRequest" and "password" in error.message.lower()


GRAPH = Dialect("Entra ID", _graph_error, _password_rule)


def _stamp(value: object) -> datetime | None:
    return stamp(value, "Graph")


class EntraConnector:
    """Connector for the Entra ID tenant of target ``name``; thread-safe."""

    def __init__(self, name: str, cfg: EntraTarget) -> None:
        self.name = name
        self._cfg = cfg
        self._tokens = GraphTokens(name, cfg)
        self._http = CloudHttp(
            name,
            cfg.graph_url,
            dialect=GRAPH,
            authorization=self._tokens.authorization,
            bounds=RetryBounds(cfg.max_retries, cfg.max_retry_after_s),
            verify=tls_verify(cfg.ca_file),
            timeout_s=cfg.timeout_s,
        )

    def close(self) -> None:
        self._http.close()

    # -- SPI ---------------------------------------------------------------------
    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        """Set the password (and the change-at-next-sign-in flag). A user synced
        from AD is refused (``cloud_only``) or left to AD (``ad_synced``)."""
        user = self._require(account_id)
        if self._synced(user, account_id):
            return (
                f"not written here: '{account_id}' is synced from on-premises AD, whose "
                "target sets the password (it reaches Entra by hash sync or writeback)"
            )
        profile = {"password": password, "forceChangePasswordNextSignIn": must_change}
        self._http.request(
            "PATCH",
            self._path(user),
            body={"passwordProfile": profile},
            account=account_id,
            secret=password,
        )
        return "password set, change required at next sign-in" if must_change else "password set"

    def force_change(self, account_id: str) -> None:
        """Require a new password at next sign-in (AD's to do for a synced user)."""
        user = self._require(account_id)
        if self._synced(user, account_id):
            raise Unsupported(
                f"'{account_id}' on Entra target '{self.name}' is synced from AD: "
                "force the change on the AD target"
            )
        body = {"passwordProfile": {"forceChangePasswordNextSignIn": True}}
        self._http.request("PATCH", self._path(user), body=body, account=account_id)

    def revoke_sessions(self, account_id: str) -> int:
        """Revoke every refresh token and session cookie of the user; 1 (Graph
        does not count them)."""
        user = self._require(account_id)
        response = self._http.request(
            "POST", f"{self._path(user)}/revokeSignInSessions", account=account_id
        )
        if _json(response).get("value") is not True:
            raise ConnectorError(
                f"Entra target '{self.name}' did not confirm revoking the sessions of "
                f"'{account_id}'"
            )
        return 1

    def password_changed_at(self, account_id: str) -> datetime | None:
        return _stamp(self._require(account_id).get("lastPasswordChangeDateTime"))

    def find_account(self, account_id: str) -> AccountInfo | None:
        user = self._lookup(account_id)
        if user is None:
            return None
        profile = user.get("passwordProfile")
        must_change = isinstance(profile, dict) and profile.get("forceChangePasswordNextSignIn")
        return AccountInfo(
            account_id=account_id,
            enabled=user.get("accountEnabled") is not False,
            locked=False,  # Graph exposes no lockout state
            must_change=must_change is True,
            password_changed_at=_stamp(user.get("lastPasswordChangeDateTime")),
        )

    def bound_factors(self, account_id: str) -> frozenset[str]:
        """The kinds of the user's second factors (``webauthn`` for FIDO2 keys and
        Windows Hello, ``totp`` for software OATH tokens, Graph's names for others)."""
        return frozenset(
            m.kind for m in self.authentication_methods(account_id) if m.kind is not None
        )

    def reset_factors(self, account_id: str) -> int:
        """Remove every authentication method but the password (a reissue: the
        user registers again, e.g. with a Temporary Access Pass) and read back
        that none remains; returns how many were removed. Raises Retryable when
        some remain."""
        removed = self.delete_authentication_methods(account_id)
        left = [m for m in self.authentication_methods(account_id) if m.deletable]
        if left:
            kinds = ", ".join(sorted({m.kind or m.odata_type for m in left}))
            raise Retryable(
                f"Entra target '{self.name}': {len(left)} authentication method(s) of "
                f"'{account_id}' remain after deletion ({kinds})"
            )
        return removed

    def test(self) -> list[TestStep]:
        """A token from the authority, then one user read from Graph (proves
        User.Read.All or more)."""
        steps: list[TestStep] = []
        try:
            self._tokens.authorization(False)
        except ConnectorError as exc:
            return [TestStep("token", False, f"{exc}: {exc.answer}")]
        accepted = f"client credentials accepted by {self._cfg.authority}"
        steps.append(TestStep("token", True, accepted))
        try:
            self._http.request("GET", "/users", params={"$top": "1", "$select": "id"})
        except ConnectorError as exc:
            steps.append(TestStep("read users", False, f"{exc}: {exc.answer}"))
        else:
            steps.append(TestStep("read users", True, f"GET {self._cfg.graph_url}/users answered"))
        return steps

    def check_alive(self) -> bool:
        try:
            self._tokens.authorization(False)
        except ConnectorError:
            return False
        return True

    # -- authentication methods and Temporary Access Pass ---------------------------
    def authentication_methods(self, account_id: str) -> list[AuthenticationMethod]:
        user = self._require(account_id)
        response = self._http.request(
            "GET", f"{self._path(user)}/authentication/methods", account=account_id
        )
        found = [method_from(item) for item in _json(response).get("value") or []]
        return [m for m in found if m is not None]

    def delete_authentication_methods(self, account_id: str, *, keep_tap: bool = False) -> int:
        """Delete every deletable method (all but the password; a Temporary Access
        Pass too unless ``keep_tap``); returns how many were deleted."""
        user = self._require(account_id)
        deleted = 0
        for method in self.authentication_methods(account_id):
            if not method.deletable or (keep_tap and method.odata_type == TAP_METHOD):
                continue
            collection = DELETE_COLLECTIONS[method.odata_type]
            self._http.request(
                "DELETE",
                f"{self._path(user)}/authentication/{collection}/{quote(method.method_id)}",
                account=account_id,
            )
            deleted += 1
        return deleted

    def issue_temporary_access_pass(
        self, account_id: str, *, usable_once: bool = True, lifetime_minutes: int | None = None
    ) -> TemporaryAccessPass:
        """Create a Temporary Access Pass (Graph replaces a usable one) living
        ``lifetime_minutes`` (the tier's; the target's ``tap_lifetime_minutes``
        when None). Its secret is in the answer once; the caller seals it at
        once and keeps no other copy."""
        user = self._require(account_id)
        body = {
            "lifetimeInMinutes": lifetime_minutes or self._cfg.tap_lifetime_minutes,
            "isUsableOnce": usable_once,
        }
        response = self._http.request(
            "POST",
            f"{self._path(user)}/authentication/temporaryAccessPassMethods",
            body=body,
            account=account_id,
        )
        created = _json(response)
        secret, method_id = created.get("temporaryAccessPass"), created.get("id")
        if not isinstance(secret, str) or not secret or not isinstance(method_id, str):
            raise ConnectorError(f"Entra target '{self.name}' created no Temporary Access Pass")
        lifetime = created.get("lifetimeInMinutes")
        return TemporaryAccessPass(
            method_id=method_id,
            secret=secret,
            start=_stamp(created.get("startDateTime")),
            lifetime_minutes=lifetime if isinstance(lifetime, int) else body["lifetimeInMinutes"],
            usable_once=created.get("isUsableOnce") is not False,
        )

    def delete_temporary_access_passes(self, account_id: str) -> int:
        """Delete the user's Temporary Access Pass(es); returns how many."""
        user = self._require(account_id)
        base = f"{self._path(user)}/authentication/temporaryAccessPassMethods"
        listed = _json(self._http.request("GET", base, account=account_id)).get("value") or []
        deleted = 0
        for item in listed:
            method_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(method_id, str):
                self._http.request("DELETE", f"{base}/{quote(method_id)}", account=account_id)
                deleted += 1
        return deleted

    # -- helpers -----------------------------------------------------------------
    def _lookup(self, account_id: str) -> dict[str, Any] | None:
        """The user whose UPN is ``account_id`` (GET /users/{upn}), or None."""
        if not account_id or "/" in account_id:
            return None  # never a UPN, and would change the path
        try:
            response = self._http.request(
                "GET",
                f"/users/{quote(account_id, safe='@')}",
                params={"$select": USER_FIELDS},
                account=account_id,
            )
        except UnknownAccount:
            return None
        user = _json(response)
        upn = user.get("userPrincipalName")
        if not isinstance(user.get("id"), str) or not isinstance(upn, str):
            raise ConnectorError(f"Entra target '{self.name}' answered a user without an id")
        if upn.casefold() != account_id.casefold():
            # Graph also finds users by object id: never act on someone else.
            return None
        return user

    def _require(self, account_id: str) -> dict[str, Any]:
        user = self._lookup(account_id)
        if user is None:
            raise UnknownAccount(f"no account '{account_id}' on Entra target '{self.name}'")
        return user

    def _path(self, user: dict[str, Any]) -> str:
        return f"/users/{quote(str(user['id']), safe='')}"

    def _synced(self, user: dict[str, Any], account_id: str) -> bool:
        """Whether the user's password belongs to AD; raises for a synced user
        when the target is configured ``cloud_only``."""
        if user.get("onPremisesSyncEnabled") is not True:
            return False
        if self._cfg.hybrid == "cloud_only":
            raise Unsupported(
                f"'{account_id}' on Entra target '{self.name}' is synced from on-premises AD, "
                'but the target is configured hybrid = "cloud_only": its password must be '
                'set in AD (configure hybrid = "ad_synced" and an AD target)'
            )
        return True


def _json(response: httpx.Response) -> dict[str, Any]:
    return json_object(response, "Graph")
