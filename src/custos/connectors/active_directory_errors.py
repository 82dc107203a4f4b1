"""Active Directory's LDAP errors, translated into :mod:`custos.connectors.errors`.

AD puts its own reason in the diagnostic message: an 8-digit Win32/DSID code
first (``0000052D: Constraint violation - ...``) and, on binds, a ``data 52e``
sub-code. Both are read here, once, so the connector only ever raises the
shared error tree (STYLE 7). No answer built here contains a password: any
diagnostic that would echo the secret is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import ldap

from custos.connectors.errors import (
    ConnectionFailed,
    ConnectorError,
    PasswordPolicy,
    PermissionDenied,
    Retryable,
    UnknownAccount,
)

#: Win32 error codes AD puts at the start of a diagnostic message.
CONSTRAINT_ATT_TYPE = "0000052D"
ACCESS_DENIED = "00000005"
REFERRAL = "0000202B"

#: ``data <code>`` of a refused bind, in words.
BIND_REFUSALS = {
    "525": "no such user",
    "52e": "wrong password",
    "530": "logon not permitted at this time",
    "531": "logon not permitted from this workstation",
    "532": "password expired",
    "533": "account disabled",
    "568": "too many security IDs",
    "701": "account expired",
    "773": "password must be reset",
    "775": "account locked out",
}

_CODE = re.compile(r"^\s*([0-9A-Fa-f]{8})\s*:")
_BIND_DATA = re.compile(r"\bdata ([0-9a-fA-F]{3,8})\b")

#: Samba and Windows words for why a password was refused, in the order checked.
_POLICY_REASONS = (
    ("too short", "it is shorter than the domain's minimum length"),
    ("complexity", "it does not meet the domain's complexity requirements"),
    ("history", "it was used recently (password history)"),
    ("already used", "it was used recently (password history)"),
    ("too young", "the previous password is younger than the minimum password age"),
)
_POLICY_GENERIC = "it does not meet complexity, length or history requirements"


def diagnostic(exc: ldap.LDAPError) -> str:
    """The server's diagnostic message (``info``), or its description."""
    details = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    text = details.get("info") or details.get("desc") or exc.__class__.__name__
    return str(text).strip()


def ad_code(message: str) -> str | None:
    """The leading 8-digit AD code of a diagnostic (upper case), if any."""
    match = _CODE.match(message)
    return match.group(1).upper() if match else None


def bind_refusal(message: str) -> str | None:
    """The ``data`` sub-code of a refused bind (lower case), if any."""
    match = _BIND_DATA.search(message)
    return match.group(1).lower() if match else None


def policy_reason(message: str) -> str:
    """What the domain refused about a password, in words."""
    lowered = message.lower()
    for needle, reason in _POLICY_REASONS:
        if needle in lowered:
            return reason
    return _POLICY_GENERIC


def translate(
    exc: ldap.LDAPError, *, target: str, doing: str, secret: str | None = None
) -> ConnectorError:
    """The connector error for ``exc``, raised while ``doing`` something on ``target``.

    ``secret`` (a password being written) is never part of the result: a
    diagnostic that contains it is replaced by its error code alone."""
    message = diagnostic(exc)
    if secret and secret in message:
        message = ad_code(message) or exc.__class__.__name__
    code = ad_code(message)
    where = f"Active Directory '{target}'"

    if isinstance(exc, (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR)):
        return ConnectionFailed(f"{where} could not be reached while {doing}", answer=message)
    if isinstance(exc, (ldap.BUSY, ldap.UNAVAILABLE, ldap.TIMELIMIT_EXCEEDED)):
        return Retryable(f"{where} is busy; try again ({doing})", answer=message)
    if isinstance(exc, ldap.INVALID_CREDENTIALS):
        reason = BIND_REFUSALS.get(bind_refusal(message) or "", "credentials refused")
        return PermissionDenied(f"{where} refused Custos's service bind: {reason}", answer=message)
    if isinstance(exc, ldap.STRONG_AUTH_REQUIRED):
        return PermissionDenied(
            f"{where} requires an encrypted connection (LDAPS or StartTLS)", answer=message
        )
    if code == CONSTRAINT_ATT_TYPE or (
        secret is not None and isinstance(exc, ldap.CONSTRAINT_VIOLATION)
    ):
        refused = (
            f"the domain refused the password: {policy_reason(message)} ({code or '0000052D'})"
        )
        return PasswordPolicy(refused, answer=refused)
    if code == ACCESS_DENIED or isinstance(exc, ldap.INSUFFICIENT_ACCESS):
        return PermissionDenied(
            f"Custos's service account may not do this on {where} ({doing})", answer=message
        )
    if code == REFERRAL or isinstance(exc, (ldap.NO_SUCH_OBJECT, ldap.REFERRAL)):
        return UnknownAccount(f"no such account on {where} ({doing})", answer=message)
    return ConnectorError(f"{where} failed while {doing}", answer=message)


@contextmanager
def ad_errors(*, target: str, doing: str, secret: str | None = None) -> Iterator[None]:
    """Translate python-ldap errors raised inside the block (``raise ... from exc``)."""
    try:
        yield
    except ldap.LDAPError as exc:
        raise translate(exc, target=target, doing=doing, secret=secret) from exc
