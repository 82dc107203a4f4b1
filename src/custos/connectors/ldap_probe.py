"""``LdapConnector.test()``: a thorough check, one step per thing that can be wrong.

Steps, in order (a failed step ends the run, its detail says why):

* ``connect``: TCP to the server's host and port.
* ``tls``: LDAPS or StartTLS with the certificate verified (``ca_file`` or the
  system CAs); a target without TLS fails this step, since passwords would cross
  the network in clear.
* ``bind``: a simple bind with the service credentials.
* ``search_base``: the user base is readable.
* ``write_permission``: OpenLDAP has no effective-rights control, so write access
  to ``userPassword``, ``pwdReset`` and ``pwdAccountLockedTime`` is probed on one
  existing account by deleting a value the entry cannot hold: the directory
  checks access first, then refuses with noSuchAttribute and changes nothing.
"""

from __future__ import annotations

import secrets
import socket
from typing import Any, Protocol
from urllib.parse import urlsplit

import ldap

from custos.config import LdapTarget
from custos.connectors.errors import ConnectorError
from custos.connectors.ldap_errors import describe, unbind_quietly
from custos.connectors.spi import TestStep


class LdapConnector(Protocol):
    """What the probe uses of ``connectors.ldap.LdapConnector`` (a protocol, so
    that the probe does not import the connector that calls it)."""

    cfg: LdapTarget

    def uses_tls(self) -> bool: ...
    def tls_mode(self) -> str: ...
    def bind_password(self) -> str: ...
    def open(self) -> Any: ...
    def search(
        self, conn: Any, base: str, scope: int, filterstr: str, attrs: list[str]
    ) -> list[tuple[str, Any]]: ...


#: Values no real entry holds: deleting them is refused after the access check.
_PROBES = {
    "userPassword": "custos-permission-probe-",
    "pwdReset": "FALSE",  # even if it matched, FALSE means the same as absent
    "pwdAccountLockedTime": "19700101000000Z",
}
_CONNECTION_ERRORS = (ldap.SERVER_DOWN, ldap.CONNECT_ERROR, ldap.TIMEOUT)


def _tcp_reachable(url: str, timeout_s: float) -> tuple[bool, str]:
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or (636 if parts.scheme.lower() == "ldaps" else 389)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True, f"TCP connection to {host}:{port}"
    except OSError as exc:
        return False, f"cannot reach {host}:{port}: {exc.strerror or exc}"


def _sample_account(connector: LdapConnector, conn: Any) -> str | None:
    """The DN of one account under the user base (None when there is none)."""
    cfg = connector.cfg
    msgid = conn.search_ext(
        cfg.user_base,
        ldap.SCOPE_SUBTREE,
        f"(objectClass={cfg.user_object_class})",
        ["1.1"],
        sizelimit=1,
    )
    try:
        kind, data, _, _ = conn.result3(msgid, all=0, timeout=cfg.timeout_s)
    except ldap.SIZELIMIT_EXCEEDED:
        return None
    if kind == ldap.RES_SEARCH_ENTRY and data:
        conn.abandon(msgid)
        return str(data[0][0])
    return None


def _write_permission(connector: LdapConnector, conn: Any) -> TestStep:
    dn = _sample_account(connector, conn)
    if dn is None:
        return TestStep(
            "write_permission",
            True,
            f"not checked: no {connector.cfg.user_object_class} entry under "
            f"{connector.cfg.user_base} yet",
        )
    denied: list[str] = []
    for attribute, value in _PROBES.items():
        if attribute == "userPassword":
            value += secrets.token_hex(8)
        try:
            conn.modify_s(dn, [(ldap.MOD_DELETE, attribute, [value.encode()])])
        except ldap.NO_SUCH_ATTRIBUTE:
            continue  # access granted, nothing changed
        except ldap.INSUFFICIENT_ACCESS:
            denied.append(attribute)
    if denied:
        return TestStep(
            "write_permission", False, f"no write access to {', '.join(denied)} on {dn}"
        )
    return TestStep(
        "write_permission",
        True,
        f"write access to {', '.join(_PROBES)} on {dn} (probed by a modify the "
        "directory refuses after its access check; nothing changed)",
    )


def _tls_step(connector: LdapConnector) -> TestStep:
    if connector.uses_tls():
        return TestStep("tls", True, connector.tls_mode())
    return TestStep("tls", False, "no LDAPS or StartTLS: passwords would cross in clear")


def run_test(connector: LdapConnector) -> list[TestStep]:
    """The steps of ``connector.test()``; never raises."""
    cfg = connector.cfg
    reachable, detail = _tcp_reachable(cfg.url, cfg.timeout_s)
    steps = [TestStep("connect", reachable, detail)]
    if not reachable:
        return steps
    try:
        password = connector.bind_password()
    except ConnectorError as exc:
        return [*steps, TestStep("bind", False, str(exc))]
    conn: Any = None
    stage = "tls" if connector.uses_tls() else "connect"
    try:
        conn = connector.open()
        try:
            # The bind is the first exchange on an LDAPS connection: it also runs TLS.
            conn.simple_bind_s(cfg.bind_dn, password)
        except _CONNECTION_ERRORS:
            raise
        except ldap.LDAPError:
            steps.append(_tls_step(connector))
            stage = "bind"
            raise
        steps.append(_tls_step(connector))
        steps.append(TestStep("bind", True, f"bound as {cfg.bind_dn}"))
        stage = "search_base"
        connector.search(conn, cfg.user_base, ldap.SCOPE_BASE, "(objectClass=*)", ["1.1"])
        steps.append(TestStep("search_base", True, f"{cfg.user_base} is readable"))
        stage = "write_permission"
        steps.append(_write_permission(connector, conn))
    except ldap.LDAPError as exc:
        said = describe(exc, password)
        if stage == "tls":
            detail = (
                f"TLS negotiation or LDAP session failed ({connector.tls_mode()}): {said}; "
                "the port answers TCP, so check that the server certificate chains to "
                "that CA and names the host in the URL"
            )
        elif stage == "connect":
            detail = f"LDAP session failed: {said}"
        elif isinstance(exc, ldap.INVALID_CREDENTIALS):
            detail = f"bind as {cfg.bind_dn} refused: invalid credentials"
        else:
            detail = f"{cfg.user_base}: {said}" if stage == "search_base" else said
        steps.append(TestStep(stage, False, detail))
    finally:
        if conn is not None:
            unbind_quietly(conn)
    return steps
