"""Translation of python-ldap exceptions into :mod:`custos.connectors.errors`, at
the boundary of the OpenLDAP connector (``raise ... from exc``)::

    SERVER_DOWN, TIMEOUT, CONNECT_ERROR          -> ConnectionFailed (Retryable)
    BUSY, UNAVAILABLE, TIMELIMIT_EXCEEDED        -> Retryable
    INVALID_CREDENTIALS, INSUFFICIENT_ACCESS,
    STRONG_AUTH_REQUIRED, CONFIDENTIALITY_REQ.,
    INAPPROPRIATE_AUTH                           -> PermissionDenied
    CONSTRAINT_VIOLATION, UNWILLING_TO_PERFORM
    naming a password rule (ppolicy)             -> PasswordPolicy
    NO_SUCH_OBJECT                               -> UnknownAccount
    any other LDAPError                          -> ConnectorError

The server's own words (its diagnostic message) become ``answer``; a secret passed
to :func:`mapped` is blanked out of every message even if a server were to echo it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import ldap

from custos.connectors.errors import (
    ConnectionFailed,
    ConnectorError,
    PasswordPolicy,
    PermissionDenied,
    Retryable,
    UnknownAccount,
)

_CONNECTION = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR)
_RETRYABLE = (ldap.BUSY, ldap.UNAVAILABLE, ldap.TIMELIMIT_EXCEEDED)
_PERMISSION = (
    ldap.INVALID_CREDENTIALS,
    ldap.INSUFFICIENT_ACCESS,
    ldap.STRONG_AUTH_REQUIRED,
    ldap.CONFIDENTIALITY_REQUIRED,
    ldap.INAPPROPRIATE_AUTH,
)
#: How ppolicy (and most directories) phrase a refused password.
_POLICY_WORDS = re.compile(r"passw|quality|history|too (short|young)|length", re.IGNORECASE)


def _info(detail: dict[str, object]) -> str:
    info = str(detail.get("info", "")).strip()
    return "" if info == "(unknown error code)" else info  # libldap's filler for "nothing"


def describe(exc: BaseException, secret: str | None = None) -> str:
    """The server's diagnostic for ``exc`` ("desc: info"), without ``secret``."""
    detail: object = exc.args[0] if exc.args else exc
    if isinstance(detail, dict):
        desc, info = str(detail.get("desc", "")).strip(), _info(detail)
        text = f"{desc}: {info}" if desc and info else desc or info
    else:
        text = str(detail)
    text = text or exc.__class__.__name__
    return text.replace(secret, "[secret]") if secret else text


def server_info(exc: BaseException, secret: str | None = None) -> str:
    """Only the server's own message (``info``), or the description when it sent none."""
    detail: object = exc.args[0] if exc.args else None
    info = _info(detail) if isinstance(detail, dict) else ""
    if not info:
        return describe(exc, secret)
    return info.replace(secret, "[secret]") if secret else info


def unbind_quietly(conn: Any) -> None:
    """Close ``conn``; an error here changes nothing, the connection is gone either way."""
    with suppress(ldap.LDAPError):
        conn.unbind_s()


def translate(exc: BaseException, action: str, secret: str | None = None) -> ConnectorError:
    """The connector error for a python-ldap exception raised while doing ``action``."""
    said = describe(exc, secret)
    if isinstance(exc, _CONNECTION):
        return ConnectionFailed(f"{action}: directory unreachable ({said})", answer=said)
    if isinstance(exc, _RETRYABLE):
        return Retryable(f"{action}: directory busy ({said})", answer=said)
    if isinstance(exc, _PERMISSION):
        return PermissionDenied(f"{action}: not permitted ({said})", answer=said)
    if isinstance(exc, ldap.CONSTRAINT_VIOLATION) or (
        isinstance(exc, ldap.UNWILLING_TO_PERFORM) and _POLICY_WORDS.search(said)
    ):
        answer = server_info(exc, secret)
        return PasswordPolicy(f"{action}: refused by password policy ({answer})", answer=answer)
    if isinstance(exc, ldap.NO_SUCH_OBJECT):
        return UnknownAccount(f"{action}: no such entry ({said})", answer=said)
    return ConnectorError(f"{action}: {said}", answer=said)


@contextmanager
def mapped(action: str, *, secret: str | None = None) -> Iterator[None]:
    """Run the block; re-raise any python-ldap error as a connector error."""
    try:
        yield
    except ldap.LDAPError as exc:
        raise translate(exc, action, secret) from exc
