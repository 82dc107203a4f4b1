"""The SCIM 2.0 connector (RFC 7643 resources, RFC 7644 protocol).

Custos names a SCIM account by its ``userName``; every operation first finds the
user with the filter ``userName eq "<name>"`` to learn its ``id`` (no cache, so
a renamed or re-created user is never confused with its predecessor).

What SCIM offers, and what it does not:

* ``set_password``: PATCH ``replace`` of ``password`` (RFC 7644 §3.5.2). The
  password is write-only and never returned (RFC 7643 §4.1.1), so the connector
  cannot read it back.
* ``must_change``: SCIM has no standard attribute to force a change at next
  logon, so ``set_password(..., must_change=True)`` raises Unsupported before
  sending anything. Vendor extensions could do it; none is configured yet.
* ``password_changed_at``: SCIM has no password-change time either; this is
  ``meta.lastModified``, the last change of *any* attribute. It is never
  earlier than the password change, and may be later.
* Locking and sessions have no SCIM representation: ``find_account`` reports
  ``locked`` and ``must_change`` as False, and there is no unlock or
  revoke-sessions operation.
* ``set_enabled``: PATCH ``replace`` of ``active``.

Errors are mapped in :mod:`custos.connectors.scim_http`; authentication lives in
:mod:`custos.connectors.scim_auth`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from scim2_models import Context, ListResponse, PatchOp, PatchOperation, Path, User

from custos.config import ScimTarget
from custos.connectors.errors import ConnectorError, UnknownAccount, Unsupported
from custos.connectors.scim_http import ScimHttp, parse
from custos.connectors.scim_probe import run_test
from custos.connectors.spi import AccountInfo, AccountRecord, TestStep

PAGE_SIZE = 200


def user_filter(user_name: str) -> str:
    """The filter selecting ``user_name``. Filter string literals are JSON strings
    (RFC 7644 §3.4.2.2), so JSON escaping covers quotes, backslashes and controls."""
    return f"userName eq {json.dumps(user_name, ensure_ascii=False)}"


class ScimConnector:
    """Connector for the SCIM service provider ``name``; thread-safe."""

    def __init__(self, name: str, cfg: ScimTarget) -> None:
        self.name = name
        self._http = ScimHttp(name, cfg)

    def close(self) -> None:
        """Release the HTTP connections."""
        self._http.close()

    # -- SPI ---------------------------------------------------------------------
    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        """Replace the password. Raises Unsupported when ``must_change`` is asked
        (nothing is sent), UnknownAccount, PasswordPolicy (with the server's
        detail, never the password), PermissionDenied or Retryable."""
        if must_change:
            raise Unsupported(
                f"SCIM target '{self.name}' cannot force a password change at next logon: "
                "SCIM 2.0 has no standard attribute for it"
            )
        user = self._require(account_id)
        self._replace(user, account_id, "password", password, secret=password)
        return "password replaced"

    def password_changed_at(self, account_id: str) -> datetime | None:
        """``meta.lastModified`` of the user: the last change of any attribute, at
        or after the last password change; None when the server keeps no meta."""
        return _last_modified(self._require(account_id))

    def find_account(self, account_id: str) -> AccountInfo | None:
        """The account as Custos names it, or None. ``locked`` and ``must_change``
        are always False (SCIM has neither); ``password_changed_at`` is
        ``meta.lastModified``."""
        user = self._lookup(account_id)
        if user is None:
            return None
        return AccountInfo(
            account_id=account_id,
            enabled=user.active is not False,  # RFC 7643 §4.1.1: absent means no opinion
            locked=False,
            must_change=False,
            password_changed_at=_last_modified(user),
        )

    def set_enabled(self, account_id: str, enabled: bool) -> None:
        """PATCH ``active``. Raises UnknownAccount, PermissionDenied or Retryable."""
        self._replace(self._require(account_id), account_id, "active", enabled)

    def test(self) -> list[TestStep]:
        """Reachability and TLS, credentials, PATCH and password-change support as
        the ServiceProviderConfig announces them, and reading /Users."""
        return run_test(self._http)

    def check_alive(self) -> bool:
        """True when the service provider answers its ServiceProviderConfig."""
        try:
            response = self._http.probe("GET", "/ServiceProviderConfig", authenticated=False)
        except ConnectorError:
            return False
        return response.status_code < 500

    def list_accounts(self) -> Iterator[AccountRecord]:
        """Every user, read page by page (RFC 7644 §3.4.2.4) before the first is
        yielded. Attributes: userName, displayName and the primary (else first) email."""
        records: list[AccountRecord] = []
        start = 1
        while True:
            response = self._http.request(
                "GET", "/Users", params={"startIndex": start, "count": PAGE_SIZE}
            )
            listed = parse(ListResponse[User[Any]], response, Context.SEARCH_RESPONSE)
            page = listed.resources or []
            for user in page:
                if not user.user_name:
                    continue
                attributes = {"userName": user.user_name}
                if user.display_name:
                    attributes["displayName"] = user.display_name
                emails = user.emails or []
                chosen = next((e for e in emails if e.primary), emails[0] if emails else None)
                if chosen is not None and chosen.value:
                    attributes["mail"] = str(chosen.value)
                records.append(AccountRecord(account_id=user.user_name, attributes=attributes))
            start += len(page)
            total = listed.total_results or 0
            if not page or start > total:
                break
        yield from records

    # -- helpers -----------------------------------------------------------------
    def _lookup(self, account_id: str) -> User[Any] | None:
        # count=2, not 1: two answers mean an ambiguous name, never "take the first".
        response = self._http.request(
            "GET", "/Users", params={"filter": user_filter(account_id), "count": 2}
        )
        listed = parse(ListResponse[User[Any]], response, Context.SEARCH_RESPONSE)
        # Guard against a server that ignores or misreads the filter: resetting
        # someone else's password is worse than not finding the account.
        wanted = account_id.casefold()
        users = [u for u in listed.resources or [] if (u.user_name or "").casefold() == wanted]
        if len(users) > 1:
            raise ConnectorError(f"SCIM target '{self.name}' has several users '{account_id}'")
        return users[0] if users else None

    def _require(self, account_id: str) -> User[Any]:
        user = self._lookup(account_id)
        if user is None or not user.id:
            raise UnknownAccount(f"no account '{account_id}' on SCIM target '{self.name}'")
        return user

    def _replace(
        self, user: User[Any], account_id: str, path: str, value: object, secret: str | None = None
    ) -> None:
        operation = PatchOperation[User[Any]](
            op=PatchOperation.Op.replace_, path=Path[User[Any]](path), value=value
        )
        patch = PatchOp[User[Any]](Operations=[operation])
        self._http.request(
            "PATCH",
            f"/Users/{quote(str(user.id), safe='')}",
            body=patch.model_dump(scim_ctx=Context.RESOURCE_PATCH_REQUEST),
            account=account_id,
            secret=secret,
        )


def _last_modified(user: User[Any]) -> datetime | None:
    stamp = user.meta.last_modified if user.meta else None
    if stamp is None:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
