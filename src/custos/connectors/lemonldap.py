"""The LemonLDAP::NG connector: ends a user's SSO sessions and removes their
registered second factors, through a LemonLDAP::NG 2.x Manager.

LemonLDAP::NG holds no password of its own (it checks the directory's), so this
target only contains: it is where the sessions and second factors live.

* ``revoke_sessions``: for each configured session kind (``global``: SSO
  sessions; ``offline``: OIDC offline sessions, whose refresh tokens outlive the
  SSO session; optionally ``persistent``), search the sessions explorer for the
  user (``GET /sessions/<kind>?_whatToTrace=<account>``; persistent sessions by
  ``_session_uid``), ``DELETE /sessions/<kind>/<id>`` each one, then search
  again: the call succeeds only when none is left. Online OIDC refresh tokens
  are bound to the SSO session and die with it.
* ``reset_factors``: ``DELETE /api/v1/secondFactor/<account>`` (Manager API v1),
  then read back ``GET /api/v1/secondFactor/<account>``: none may remain.
* ``bound_factors``: that read, as Custos spells authenticator kinds.

The account id is the value LemonLDAP::NG traces users by (its
``whatToTrace`` attribute, ``uid`` by default), spelled as the directory
returns it. The Manager matches it exactly, or as a pattern when it holds
``*``, so an account id with a pattern character is refused before anything is
sent: a pattern could delete other users' sessions.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from custos.config import LemonLdapSessionKind, LemonLdapTarget
from custos.connectors.errors import ConnectorError, Retryable
from custos.connectors.lemonldap_http import LemonLdapHttp
from custos.connectors.spi import TestStep

#: What the Manager's search takes literally (no ``*`` pattern, no ``net/bits``).
_SAFE_ACCOUNT = re.compile(r"^[^\s*/\\]+$")
#: The search key of each kind: the Manager reads ``_whatToTrace`` as its
#: configured trace attribute; persistent sessions carry ``_session_uid``.
_SEARCH_KEY: dict[str, str] = {
    "global": "_whatToTrace",
    "offline": "_whatToTrace",
    "persistent": "_session_uid",
}
#: LemonLDAP::NG's second-factor types, as Custos spells authenticator kinds.
_FACTOR_KINDS = {"TOTP": "totp", "WebAuthn": "webauthn", "U2F": "u2f", "UBK": "yubikey"}


class LemonLdapConnector:
    """Connector for the LemonLDAP::NG Manager of target ``name``; thread-safe."""

    def __init__(self, name: str, cfg: LemonLdapTarget) -> None:
        self.name = name
        self._kinds: tuple[LemonLdapSessionKind, ...] = tuple(cfg.session_kinds)
        self._http = LemonLdapHttp(name, cfg)

    def close(self) -> None:
        """Release the HTTP connections."""
        self._http.close()

    # -- SPI ---------------------------------------------------------------------
    def revoke_sessions(self, account_id: str) -> int:
        """Delete every session of the account of each configured kind and read
        back that none is left; returns how many were deleted. Raises Retryable
        when some remain (the Manager's own error as the answer),
        PermissionDenied, or ConnectorError."""
        self._check(account_id)
        ended = 0
        failures: list[str] = []
        for kind in self._kinds:
            for session in self._sessions(kind, account_id):
                deleted, why = self._delete(kind, session)
                ended += deleted
                if why:
                    failures.append(why)
        left = {kind: len(self._sessions(kind, account_id)) for kind in self._kinds}
        remaining = {kind: count for kind, count in left.items() if count}
        if remaining:
            counts = ", ".join(f"{count} {kind}" for kind, count in remaining.items())
            raise Retryable(
                f"LemonLDAP::NG target '{self.name}': {counts} session(s) of "
                f"'{account_id}' remain after deletion",
                answer=failures[0] if failures else f"{counts} session(s) remain",
            )
        return ended

    def bound_factors(self, account_id: str) -> frozenset[str]:
        """The kinds of the second factors registered for the account."""
        return frozenset(
            _FACTOR_KINDS.get(kind, kind.lower()) for kind in self._factor_types(account_id)
        )

    def reset_factors(self, account_id: str) -> int:
        """Remove every registered second factor of the account and read back
        that none is left; returns how many were removed."""
        self._check(account_id)
        before = len(self._factor_types(account_id))
        self._http.json("DELETE", self._factor_path(account_id))
        left = len(self._factor_types(account_id))
        if left:
            raise Retryable(
                f"LemonLDAP::NG target '{self.name}': {left} second factor(s) of "
                f"'{account_id}' remain after deletion"
            )
        return before

    def test(self) -> list[TestStep]:
        """Reachability and TLS, the credentials, and the two modules used."""
        steps: list[TestStep] = []
        probe = "custos-probe-no-such-user"
        checks = (
            ("reachable", "GET", "/api/v1/status", None),
            ("sessions explorer", "GET", "/sessions/global", {"_whatToTrace": probe}),
            ("second factors API", "GET", self._factor_path(probe), None),
        )
        for name, method, path, params in checks:
            try:
                self._http.json(method, path, params=params)
            except ConnectorError as exc:
                steps.append(TestStep(name, False, f"{exc} ({exc.answer})"))
                break
            steps.append(TestStep(name, True, f"{method} {path} answered"))
        return steps

    def check_alive(self) -> bool:
        """True when the Manager answers its status page."""
        try:
            response = self._http.send("GET", "/api/v1/status")
        except ConnectorError:
            return False
        return response.status_code < 500

    # -- helpers -----------------------------------------------------------------
    def _check(self, account_id: str) -> None:
        if not _SAFE_ACCOUNT.match(account_id):
            raise ConnectorError(
                f"LemonLDAP::NG target '{self.name}': account id '{account_id}' holds a "
                "character the Manager's search reads as a pattern; refused"
            )

    def _sessions(self, kind: LemonLdapSessionKind, account_id: str) -> list[str]:
        """The (enciphered, unless the Manager shows them) ids of the account's
        sessions of ``kind``."""
        self._check(account_id)
        body = self._http.json("GET", f"/sessions/{kind}", params={_SEARCH_KEY[kind]: account_id})
        values = body.get("values") if isinstance(body, dict) else None
        if not isinstance(body, dict) or body.get("result") != 1 or not isinstance(values, list):
            raise ConnectorError(
                f"LemonLDAP::NG target '{self.name}': unexpected answer to a {kind} session search",
                answer=str(body.get("error", "")) if isinstance(body, dict) else "",
            )
        return [str(v["session"]) for v in values if isinstance(v, dict) and v.get("session")]

    def _delete(self, kind: LemonLdapSessionKind, session: str) -> tuple[int, str]:
        """Delete one session: (1, "") when the Manager confirms it, else (0, its
        words). A session gone meanwhile is judged by the read-back that follows."""
        try:
            body = self._http.json("DELETE", f"/sessions/{kind}/{quote(session, safe='')}")
        except Retryable as exc:
            return 0, exc.answer
        if isinstance(body, dict) and body.get("result") == 1:
            return 1, ""
        return 0, str(body.get("error", "")) if isinstance(body, dict) else "unexpected answer"

    def _factor_path(self, account_id: str) -> str:
        return f"/api/v1/secondFactor/{quote(account_id, safe='')}"

    def _factor_types(self, account_id: str) -> list[str]:
        self._check(account_id)
        body = self._http.json("GET", self._factor_path(account_id))
        if not isinstance(body, list):
            raise ConnectorError(
                f"LemonLDAP::NG target '{self.name}': unexpected answer listing second factors"
            )
        return [str(f.get("type", "")) for f in body if isinstance(f, dict)]
