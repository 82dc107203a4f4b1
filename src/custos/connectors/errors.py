"""The one error tree every connector maps its foreign errors into, at its boundary
(``raise ... from exc``)::

    ConnectorError
    ├── Retryable              try again later (timeouts, busy, connection lost)
    │   └── ConnectionFailed   the target could not be reached
    ├── PermissionDenied       Custos's own credentials may not do this
    ├── PasswordPolicy         the target refused the new password (says why)
    ├── UnknownAccount         no such account on the target
    └── Unsupported            the target lacks this operation
"""

from __future__ import annotations


class ConnectorError(Exception):
    """A connector operation failed. ``answer`` is the target's own words, never a secret."""

    retryable = False

    def __init__(self, message: str, *, answer: str = "") -> None:
        super().__init__(message)
        self.answer = answer or message


class Retryable(ConnectorError):
    retryable = True


class ConnectionFailed(Retryable):
    pass


class PermissionDenied(ConnectorError):
    pass


class PasswordPolicy(ConnectorError):
    pass


class UnknownAccount(ConnectorError):
    pass


class Unsupported(ConnectorError):
    pass
