"""The connector SPI: one small protocol per operation (after ConnId's ``*Op``).

A connector's capabilities are the protocols it implements, minus what its
configuration switches off (``capabilities()``). Every method raises only
:mod:`custos.connectors.errors` types; secrets passed in are never logged,
stored or echoed in an answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from custos.connectors.entra_methods import TemporaryAccessPass


@dataclass(frozen=True, slots=True)
class AccountInfo:
    account_id: str
    enabled: bool
    locked: bool
    must_change: bool
    password_changed_at: datetime | None


@dataclass(frozen=True, slots=True)
class TestStep:
    name: str
    ok: bool
    detail: str


class Connector(Protocol):
    name: str


def fold_dn(dn: str) -> str:
    """A DN compared as directories compare the usual ones: case-insensitively,
    without the spaces around separators (``CN=Ana, OU=People`` and
    ``cn=ana,ou=people`` are one entry). Escaped commas stay inside their RDN."""
    parts: list[str] = []
    current = ""
    escaped = False
    for char in dn:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char == ",":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    folded = []
    for part in parts:
        name, _, value = part.partition("=")
        folded.append(f"{name.strip()}={value.strip()}".lower() if _ else part.strip().lower())
    return ",".join(folded)


@runtime_checkable
class SetPasswordOp(Protocol):
    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        """Set the password; ``must_change`` forces a change at next logon.
        Returns the target's answer (no secret)."""
        ...


@runtime_checkable
class ForceChangeOp(Protocol):
    """Targets that can demand a new password at next logon. Only these accept
    ``set_password(..., must_change=True)``; others raise Unsupported for it."""

    def force_change(self, account_id: str) -> None:
        """Require the account to choose a new password at its next logon."""
        ...


@runtime_checkable
class RevokeSessionsOp(Protocol):
    def revoke_sessions(self, account_id: str) -> int:
        """End every session of the account; return how many were ended."""
        ...


@runtime_checkable
class ReadFactorsOp(Protocol):
    """Targets that report the second factors bound to an account there (an
    identity provider, an SSO portal); the ``mfa_bound`` check asks them when
    Custos itself has no accepted authenticator for the subject."""

    def bound_factors(self, account_id: str) -> frozenset[str]:
        """The kinds of active second factors of the account, spelled as Custos
        spells authenticator kinds (``webauthn``, ``totp``)."""
        ...


@runtime_checkable
class ResetFactorsOp(Protocol):
    """Targets where second factors can be removed (a credential reissue: the
    subject enrols again)."""

    def reset_factors(self, account_id: str) -> int:
        """Remove every second factor registered for the account and read back
        that none remains; return how many were removed. Raises a connector
        error when some remain."""
        ...


@runtime_checkable
class TemporaryAccessPassOp(Protocol):
    """Targets that issue a Temporary Access Pass (Entra ID): a time-limited
    passcode with which a reissued subject registers new factors there
    (docs/policy.md#temporary_access_pass)."""

    def issue_temporary_access_pass(
        self, account_id: str, *, usable_once: bool = True, lifetime_minutes: int | None = None
    ) -> TemporaryAccessPass:
        """Create one; its ``secret`` is in the answer once (the caller seals it)."""
        ...

    def delete_temporary_access_passes(self, account_id: str) -> int:
        """Delete the account's Temporary Access Pass(es); return how many."""
        ...


@runtime_checkable
class ReadPasswordChangedOp(Protocol):
    def password_changed_at(self, account_id: str) -> datetime | None:
        """When the password last changed, as the target records it (None: never)."""
        ...


@runtime_checkable
class ReadPasswordChangedManyOp(Protocol):
    """Targets that read many accounts' password-change times in few requests
    (the read-back of a propagated batch)."""

    def passwords_changed_at(self, account_ids: Sequence[str]) -> dict[str, datetime | None]:
        """Per asked account id (the caller's spelling, matched as the target
        compares names), what ``password_changed_at`` would answer. An account
        the target does not have is absent; so is one the target cannot answer
        for alone (several entries claim it, an unreadable time): asking
        ``password_changed_at`` for it gives the precise error. None: the target
        has the account but no change time. Raises a connector error only when
        the read fails as a whole."""
        ...


@runtime_checkable
class PrepareWritesOp(Protocol):
    """Targets whose writes first look an account up, and can look many up at once."""

    def prepare_writes(self, account_ids: Sequence[str]) -> None:
        """Look up, in few requests, what the following ``set_password`` calls on
        these accounts need, so each skips its own lookup. Each prepared lookup
        is used once, by the next ``set_password`` of that account; one that has
        gone stale meanwhile is looked up again. Best effort: never raises, and
        a failure only means the writes look accounts up themselves."""
        ...


@runtime_checkable
class FindAccountOp(Protocol):
    def find_account(self, account_id: str) -> AccountInfo | None:
        """The account, or None when the target has no such account."""
        ...


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """One account as a target lists it, with the attributes sync correlates on
    (e.g. uid, sAMAccountName, userName, mail, displayName)."""

    account_id: str
    attributes: dict[str, str]
    #: Every value of each attribute read (memberOf, objectClass are multi-valued).
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: The entry's distinguished name, where the target has one.
    dn: str = ""
    #: The attribute mapping's LDAP filters this entry matches, as the directory
    #: evaluated them (AttributeMapping.filters()).
    matched_filters: frozenset[str] = frozenset()


@runtime_checkable
class ListAccountsOp(Protocol):
    def list_accounts(self) -> Iterator[AccountRecord]:
        """Every account the target holds under its configured base."""
        ...


@runtime_checkable
class UnlockOp(Protocol):
    def unlock(self, account_id: str) -> None: ...


@runtime_checkable
class EnableOp(Protocol):
    def set_enabled(self, account_id: str, enabled: bool) -> None: ...


@runtime_checkable
class AuthenticateOp(Protocol):
    """Targets that can check a subject's own password (subject sign-in to Custos)."""

    def authenticate(self, account_id: str, password: str) -> bool:
        """Whether ``password`` opens ``account_id`` right now, checked the way the
        target checks a login (a real bind as the user where the target is a
        directory). False for a wrong password, an unknown account, or one the
        target refuses to open (disabled, locked, AD's "must change first");
        raises a connector error only when the target cannot answer
        (unreachable, misconfigured). The password is never logged or echoed."""
        ...


@runtime_checkable
class TestOp(Protocol):
    def test(self) -> list[TestStep]:
        """A thorough check: connectivity, credentials, permissions."""
        ...

    def check_alive(self) -> bool:
        """A cheap liveness probe."""
        ...


@runtime_checkable
class GraceRotationOp(Protocol):
    """Targets that can hold two credentials for one account: a rotation sets the
    new one and keeps the old one working until its grace period ends (R-40).
    LDAP and AD passwords cannot: there the new password replaces the old one."""

    def set_password_keeping_previous(self, account_id: str, password: str) -> str:
        """Set ``password``; the one it replaces keeps opening the account until
        :meth:`revoke_previous`. Returns the target's answer (no secret)."""
        ...

    def revoke_previous(self, account_id: str) -> bool:
        """Stop the kept credential from working and read back that it no longer
        does. True when one was revoked, False when none was kept. Raises a
        connector error when it cannot be revoked."""
        ...


@runtime_checkable
class InteractiveUseOp(Protocol):
    """Targets that record interactive logons of an account (AD: logonCount,
    lastLogon), so a person using a service credential can be seen (R-42)."""

    def interactive_use(self, account_id: str) -> InteractiveUse:
        """What the target recorded of the account's logons."""
        ...


@dataclass(frozen=True, slots=True)
class InteractiveUse:
    """Logons a target recorded for one account (R-42)."""

    logons: int
    last_logon: datetime | None
    #: Where the numbers come from, e.g. ``"ad: logonCount, lastLogon"``.
    source: str


OPERATIONS: dict[str, type] = {
    "set_password": SetPasswordOp,
    "force_change": ForceChangeOp,
    "revoke_sessions": RevokeSessionsOp,
    "read_factors": ReadFactorsOp,
    "reset_factors": ResetFactorsOp,
    "temporary_access_pass": TemporaryAccessPassOp,
    "read_password_changed": ReadPasswordChangedOp,
    "read_password_changed_many": ReadPasswordChangedManyOp,
    "prepare_writes": PrepareWritesOp,
    "find_account": FindAccountOp,
    "list_accounts": ListAccountsOp,
    "unlock": UnlockOp,
    "enable": EnableOp,
    "authenticate": AuthenticateOp,
    "test": TestOp,
    "grace_rotation": GraceRotationOp,
    "interactive_use": InteractiveUseOp,
}


def class_capabilities(cls: type) -> frozenset[str]:
    """Operation names a connector class implements (before configuration)."""
    return frozenset(name for name, op in OPERATIONS.items() if issubclass(cls, op))


def capabilities(connector: object, disabled: frozenset[str] = frozenset()) -> frozenset[str]:
    """Operation names the connector implements, minus those configuration disables."""
    return frozenset(
        name
        for name, op in OPERATIONS.items()
        if isinstance(connector, op) and name not in disabled
    )
