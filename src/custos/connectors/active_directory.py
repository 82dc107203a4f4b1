"""Active Directory (and Samba AD) over LDAP with python-ldap.

A password is an administrative reset: ``unicodePwd`` replaced with the
password in double quotes, UTF-16-LE encoded. AD accepts that only over an
encrypted connection, so the connector refuses ``ldap://`` without StartTLS.
Then ``pwdLastSet`` is 0 (change at next logon) or -1 (AD stamps "now").

Account state is read from AD's own attributes: ``userAccountControl`` bit
0x2 (disabled), ``lockoutTime`` (locked; AD's computed
``msDS-User-Account-Control-Computed`` bit 0x10 wins when present, because a
lockout that has expired keeps its ``lockoutTime``), ``pwdLastSet`` (FILETIME;
0 means must change). Every error leaves as a :mod:`custos.connectors.errors`
type (see :mod:`custos.connectors.active_directory_errors`).

Many accounts are read in one search per ``BATCH_SIZE`` (an OR filter on the
account attribute): ``passwords_changed_at``, and ``prepare_writes``, which
keeps each account's ``<GUID=...>`` DN for its next ``set_password``. A GUID
names the object itself, so a prepared write follows a renamed or moved
account, can never land on another object that took over the old DN, and
fails as gone (then searched again once) when the object was deleted.

A small pool of bound connections (``POOL_SIZE``, used by one thread at a time
each: python-ldap connections are not safe to share) lets that many operations
run at once; further callers wait for a free one. A connection that lost its
server is dropped with every idle one (a restarted DC makes them all stale),
and an operation that found its reused connection stale runs once more on a
new one before an error is raised.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import ldap
import structlog
from ldap.controls import RequestControl, SimplePagedResultsControl

from custos.config import ActiveDirectoryTarget, ConfigError
from custos.connectors.active_directory_errors import ad_errors, diagnostic, translate
from custos.connectors.errors import ConnectorError, UnknownAccount
from custos.connectors.ldap import (
    Entry,
    PreparedDns,
    find_accounts,
    fold,
    parse_generalized_time,
)
from custos.connectors.spi import AccountInfo, AccountRecord, InteractiveUse, TestStep, fold_dn

T = TypeVar("T")
log = structlog.get_logger("custos.connectors")

ACCOUNTDISABLE = 0x2
UF_LOCKOUT = 0x10
#: Asks Windows (2012+) to apply password history to an administrative reset too.
#: Non-critical: a DC that does not know it (Samba 4.17) ignores it.
POLICY_HINTS = RequestControl("1.2.840.113556.1.4.2239", False, b"\x30\x03\x02\x01\x01")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_WRITABLE_NEEDED = ("unicodePwd", "pwdLastSet", "lockoutTime", "userAccountControl")
_CHANGE_ATTRS = ["pwdLastSet", "whenChanged"]
_LOGON_ATTRS = ["logonCount", "lastLogon", "lastLogonTimestamp"]
_ACCOUNT_ATTRS = [
    "userAccountControl",
    "lockoutTime",
    "pwdLastSet",
    "msDS-User-Account-Control-Computed",
    "whenChanged",
]


def filetime_to_datetime(value: int) -> datetime | None:
    """A Windows FILETIME (100 ns ticks since 1601-01-01 UTC) as an aware UTC
    datetime; 0 (never set, or must change) and negative values give None."""
    if value <= 0:
        return None
    return _FILETIME_EPOCH + timedelta(microseconds=value // 10)


def encode_unicode_pwd(password: str) -> bytes:
    """The ``unicodePwd`` value AD expects: the password quoted, UTF-16-LE."""
    return f'"{password}"'.encode("utf-16-le")


class ActiveDirectoryConnector:
    """Connector for the Active Directory target ``name``.

    Raises ConnectorError at construction when the configuration would send a
    password in clear text (``ldap://`` without ``start_tls``)."""

    #: Bound connections, at most this many at once (a DC is not flooded).
    POOL_SIZE = 8

    def __init__(self, name: str, cfg: ActiveDirectoryTarget) -> None:
        if cfg.url.lower().startswith("ldap://") and not cfg.start_tls:
            raise ConnectorError(
                f"Active Directory '{name}': {cfg.url} is not encrypted; AD accepts "
                "password resets only over LDAPS (ldaps://) or with start_tls: true"
            )
        self.name = name
        self._cfg = cfg
        self._idle: list[Any] = []
        self._pool_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.POOL_SIZE)
        self._prepared = PreparedDns()

    # -- SPI ---------------------------------------------------------------------
    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        """Reset the password; raises PasswordPolicy (saying why, never the
        password), UnknownAccount, PermissionDenied or Retryable. Should the
        pwdLastSet write fail, the new password is already in place; repeating
        the call is safe (Windows, applying history to resets, may then answer
        PasswordPolicy for the now-current password). Uses the object
        ``prepare_writes`` found, once; if it is gone, searches again."""
        prepared = self._prepared.take(account_id)
        if prepared is not None:
            try:
                return self._reset(prepared, password, must_change)
            except UnknownAccount:
                log.debug("ad_prepared_object_gone", target=self.name, account=account_id)
        return self._reset(self._dn(account_id), password, must_change)

    def _reset(self, dn: str, password: str, must_change: bool) -> str:
        pwd_mod = [(ldap.MOD_REPLACE, "unicodePwd", [encode_unicode_pwd(password)])]
        # pwdLastSet goes in a second modify: in the same one, the password
        # write stamps "now" over our 0.
        last_set = b"0" if must_change else b"-1"
        with ad_errors(target=self.name, doing="resetting a password", secret=password):
            self._call(lambda c: c.modify_ext_s(dn, pwd_mod, serverctrls=[POLICY_HINTS]))
        with ad_errors(target=self.name, doing="setting pwdLastSet"):
            self._call(lambda c: c.modify_s(dn, [(ldap.MOD_REPLACE, "pwdLastSet", [last_set])]))
        return "password reset by the domain controller" + (
            " (change required at next logon)" if must_change else ""
        )

    def authenticate(self, account_id: str, password: str) -> bool:
        """A simple bind as the account's DN over a connection of its own (LDAPS or
        StartTLS, as configured). Every refused bind (wrong password, disabled,
        locked, expired, must change first: AD's ``data`` codes) is False; an
        empty password is refused before any bind (it would be anonymous)."""
        if not password:
            return False
        try:
            dn = self._dn(account_id)
        except UnknownAccount:
            return False
        with ad_errors(target=self.name, doing="authenticating a user", secret=password):
            conn = self._open()
            try:
                conn.simple_bind_s(dn, password)
            except ldap.INVALID_CREDENTIALS:
                return False
            finally:
                with contextlib.suppress(ldap.LDAPError):
                    conn.unbind_s()
        return True

    def password_changed_at(self, account_id: str) -> datetime | None:
        """From ``pwdLastSet``. While a change at next logon is pending AD holds 0
        there, so the entry's ``whenChanged`` stands in: never earlier than the
        reset, possibly later (any change moves it). None: never set."""
        _, attrs = self._entry(account_id)
        return self._changed_at(attrs)

    def passwords_changed_at(self, account_ids: Sequence[str]) -> dict[str, datetime | None]:
        """``password_changed_at`` of many accounts, one search per ``BATCH_SIZE``.
        An account several objects claim, or with an unreadable time, is left
        out (``password_changed_at`` says why)."""
        if not account_ids:
            return {}
        found = self._find(account_ids, _CHANGE_ATTRS, "reading password change times")
        times: dict[str, datetime | None] = {}
        for account in account_ids:
            entries = found.get(fold(account), [])
            if len(entries) > 1:
                log.warning("ad_ambiguous_account", target=self.name, account=account)
            if len(entries) != 1:
                continue
            try:
                times[account] = self._changed_at(entries[0][1])
            except ConnectorError as exc:
                log.warning("ad_unreadable_change_time", target=self.name, error=str(exc))
        return times

    def prepare_writes(self, account_ids: Sequence[str]) -> None:
        """Find the objects of ``account_ids`` (one search per ``BATCH_SIZE``) and
        keep their ``<GUID=...>`` DNs for the next ``set_password`` of each; an
        account several objects claim is left to its own search. Never raises:
        on any failure the writes search for themselves."""
        if not account_ids:
            return
        try:
            found = self._find(account_ids, ["objectGUID"], "preparing writes")
            prepared = {
                account: dn
                for account, entries in found.items()
                if len(entries) == 1 and (dn := _guid_dn(entries[0][1]))
            }
        except Exception as exc:  # best effort by contract: the writes still work without
            log.debug("ad_prepare_writes_failed", target=self.name, error=repr(exc))
            return
        self._prepared.put(prepared)

    def _changed_at(self, attrs: Entry) -> datetime | None:
        stamp = filetime_to_datetime(_int(attrs, "pwdLastSet"))
        changed = attrs.get("whenChanged")
        if stamp is None and changed:
            try:
                return parse_generalized_time(changed[0].decode())
            except ValueError as exc:
                raise ConnectorError(
                    f"Active Directory '{self.name}': unreadable whenChanged {changed[0]!r}"
                ) from exc
        return stamp

    def find_account(self, account_id: str) -> AccountInfo | None:
        """The account by ``account_attribute``, or None when AD has none."""
        try:
            _, attrs = self._entry(account_id)
        except UnknownAccount:
            return None
        flags = _int(attrs, "userAccountControl")
        computed = attrs.get("msDS-User-Account-Control-Computed")
        locked = bool(int(computed[0]) & UF_LOCKOUT) if computed else _int(attrs, "lockoutTime") > 0
        pwd_last_set = _int(attrs, "pwdLastSet")
        named = attrs.get(self._cfg.account_attribute)
        return AccountInfo(
            account_id=named[0].decode() if named else account_id,
            enabled=not flags & ACCOUNTDISABLE,
            locked=locked,
            must_change=pwd_last_set == 0,
            password_changed_at=filetime_to_datetime(pwd_last_set),
        )

    def interactive_use(self, account_id: str) -> InteractiveUse:
        """The logons this DC recorded for the account: ``logonCount`` and the
        later of ``lastLogon`` (this DC, not replicated) and ``lastLogonTimestamp``
        (replicated, up to 14 days late) (R-42)."""
        found = self._find([account_id], _LOGON_ATTRS, "reading logon data")
        entries = found.get(fold(account_id), [])
        if len(entries) != 1:
            raise UnknownAccount(f"no single account '{account_id}' in '{self.name}'")
        attrs = entries[0][1]
        stamps = [filetime_to_datetime(_int(attrs, a)) for a in ("lastLogon", "lastLogonTimestamp")]
        known = [s for s in stamps if s is not None]
        return InteractiveUse(
            logons=_int(attrs, "logonCount"),
            last_logon=max(known) if known else None,
            source=f"Active Directory '{self.name}': logonCount, lastLogon, lastLogonTimestamp",
        )

    def force_change(self, account_id: str) -> None:
        """Require a new password at next logon (``pwdLastSet`` = 0)."""
        dn = self._dn(account_id)
        with ad_errors(target=self.name, doing="setting pwdLastSet"):
            self._call(lambda c: c.modify_s(dn, [(ldap.MOD_REPLACE, "pwdLastSet", [b"0"])]))

    def unlock(self, account_id: str) -> None:
        """Clear ``lockoutTime`` (harmless on an unlocked account)."""
        dn = self._dn(account_id)
        with ad_errors(target=self.name, doing="unlocking an account"):
            self._call(lambda c: c.modify_s(dn, [(ldap.MOD_REPLACE, "lockoutTime", [b"0"])]))

    def set_enabled(self, account_id: str, enabled: bool) -> None:
        """Clear or set ACCOUNTDISABLE in ``userAccountControl``, keeping other
        bits. Raises ConnectorError if another writer changed the flags between
        the read and the write (nothing is written then)."""
        dn, attrs = self._entry(account_id)
        flags = _int(attrs, "userAccountControl")
        wanted = flags & ~ACCOUNTDISABLE if enabled else flags | ACCOUNTDISABLE
        if wanted == flags:
            return
        # Delete-old-add-new fails if another writer changed the flags meanwhile,
        # instead of silently undoing their change.
        mods = [
            (ldap.MOD_DELETE, "userAccountControl", [str(flags).encode()]),
            (ldap.MOD_ADD, "userAccountControl", [str(wanted).encode()]),
        ]
        with ad_errors(target=self.name, doing="changing userAccountControl"):
            self._call(lambda c: c.modify_s(dn, mods))

    def test(self) -> list[TestStep]:
        """TLS with certificate validation, service bind, user base readable,
        and whether the service account may write the attributes resets need."""
        steps: list[TestStep] = []
        try:
            conn = self._open()
            conn.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["supportedLDAPVersion"])
        except ldap.LDAPError as exc:
            return [TestStep("connect", False, self._explain(exc, "connecting"))]
        tls = "StartTLS" if self._cfg.start_tls else "LDAPS"
        steps.append(TestStep("connect", True, f"{tls} to {self._cfg.url}, certificate verified"))
        for name, run in (
            ("bind", self._bind),
            ("base", self._read_base),
            ("permissions", self._rights),
        ):
            try:
                detail, ok = run(conn)
            except ldap.LDAPError as exc:
                steps.append(TestStep(name, False, self._explain(exc, name)))
                break
            except ConnectorError as exc:
                steps.append(TestStep(name, False, str(exc)))
                break
            steps.append(TestStep(name, ok, detail))
            if not ok:
                break
        conn.unbind_s()
        return steps

    def check_alive(self) -> bool:
        """Read the root DSE on a pooled connection; never raises."""
        try:
            self._call(
                lambda c: c.search_s("", ldap.SCOPE_BASE, "(objectClass=*)", ["currentTime"])
            )
        except (ldap.LDAPError, ConnectorError):
            return False
        return True

    # -- lookups -----------------------------------------------------------------
    def list_accounts(self) -> Iterator[AccountRecord]:
        """Every user (not computer) under ``user_base``, read in RFC 2696 pages
        before the first is yielded. Attributes: sAMAccountName, userPrincipalName,
        mail, displayName, the correlation attribute and what the attribute
        mapping reads, when present; with mapping filters, the ones each entry
        matches (one search per filter, evaluated by the DC)."""
        wanted = ["sAMAccountName", "userPrincipalName", "mail", "displayName"]
        if self._cfg.correlation_attribute and self._cfg.correlation_attribute not in wanted:
            wanted.append(self._cfg.correlation_attribute)
        if self._cfg.mapping is not None:
            # What the attribute mapping reads (memberOf, adminCount, managedBy, ...).
            wanted += [a for a in self._cfg.mapping.attributes() if a not in wanted]
        query = "(&(objectCategory=person)(objectClass=user))"
        records: list[AccountRecord] = []
        # The mapping's filters, evaluated by the DC: one search per filter.
        matched: dict[str, set[str]] = {}
        filters = self._cfg.mapping.filters() if self._cfg.mapping is not None else []

        def page_through(conn: Any) -> None:
            records.clear()  # a retried call starts over
            matched.clear()
            for text in filters:
                for dn, _ in pages(conn, f"(&{query}{text})", ["1.1"]):
                    matched.setdefault(fold_dn(dn), set()).add(text)
            for dn, attrs in pages(conn, query, wanted):
                values = {n: attrs[n][0].decode() for n in wanted if attrs.get(n)}
                every = {
                    n: tuple(v.decode("utf-8", "replace") for v in attrs[n])
                    for n in wanted
                    if attrs.get(n)
                }
                account = values.get(self._cfg.account_attribute)
                if account:
                    records.append(
                        AccountRecord(
                            account_id=account,
                            attributes=values,
                            values=every,
                            dn=dn,
                            matched_filters=frozenset(matched.get(fold_dn(dn), ())),
                        )
                    )

        def pages(conn: Any, filterstr: str, attrs: list[str]) -> Iterator[tuple[str, Any]]:
            paging = SimplePagedResultsControl(True, size=500, cookie="")
            while True:
                msgid = conn.search_ext(
                    self._cfg.user_base, ldap.SCOPE_SUBTREE, filterstr, attrs, serverctrls=[paging]
                )
                _, found, _, controls = conn.result3(msgid, timeout=self._cfg.timeout_s)
                for dn, attrs_found in found:
                    if dn:  # not a referral
                        yield dn, attrs_found
                cookie = next(
                    (c.cookie for c in controls if c.controlType == paging.controlType), b""
                )
                if not cookie:
                    return
                paging.cookie = cookie

        with ad_errors(target=self.name, doing="listing accounts"):
            self._call(page_through)
        yield from records

    def _find(
        self, account_ids: Iterable[str], attrs: list[str], doing: str
    ) -> dict[str, list[tuple[str, Entry]]]:
        """Objects per folded account id (:func:`custos.connectors.ldap.find_accounts`)
        with ``attrs`` and the account attribute; one search per ``BATCH_SIZE``."""
        attr = self._cfg.account_attribute
        wanted = [attr, *(a for a in attrs if a.lower() != attr.lower())]

        def search(query: str) -> list[tuple[str, Entry]]:
            found = self._call(
                lambda c: c.search_s(self._cfg.user_base, ldap.SCOPE_SUBTREE, query, wanted)
            )
            return [(dn, attrs) for dn, attrs in found if dn]  # AD adds referral entries

        with ad_errors(target=self.name, doing=doing):
            return find_accounts(search, "(objectClass=user)", attr, account_ids)

    def _entry(self, account_id: str) -> tuple[str, Entry]:
        found = self._find([account_id], _ACCOUNT_ATTRS, "looking up an account")
        entries = found.get(fold(account_id), [])
        if not entries:
            raise UnknownAccount(f"no account '{account_id}' in Active Directory '{self.name}'")
        if len(entries) > 1:
            raise ConnectorError(
                f"{len(entries)} accounts match '{account_id}' in Active Directory '{self.name}'"
            )
        return entries[0]

    def _dn(self, account_id: str) -> str:
        return self._entry(account_id)[0]

    # -- connections ---------------------------------------------------------------
    def _call(self, operation: Callable[[Any], T]) -> T:
        """Run ``operation`` on a bound connection of the pool (a new one when none
        is idle; at most ``POOL_SIZE`` at once, further callers wait). A reused
        connection found stale is replaced once. Raises ldap.LDAPError (the
        caller translates)."""
        with self._slots:
            conn = self._take()
            reused = conn is not None
            while True:
                if conn is None:
                    conn = self._connect()
                try:
                    result = operation(conn)
                except ldap.SERVER_DOWN:
                    _unbind_quietly(conn)
                    self._drain()  # the DC went away: every idle connection is stale
                    if not reused:
                        raise
                    conn, reused = None, False
                    continue
                except ldap.LDAPError as exc:
                    if isinstance(exc, (ldap.TIMEOUT, ldap.CONNECT_ERROR)):
                        _unbind_quietly(conn)  # in an unknown state
                    else:
                        self._give_back(conn)  # an answer from a live DC
                    raise
                except BaseException:
                    _unbind_quietly(conn)
                    raise
                self._give_back(conn)
                return result

    def _connect(self) -> Any:
        conn = self._open()
        try:
            self._bind(conn)
        except BaseException:
            _unbind_quietly(conn)
            raise
        return conn

    def _take(self) -> Any | None:
        with self._pool_lock:
            return self._idle.pop() if self._idle else None

    def _give_back(self, conn: Any) -> None:
        with self._pool_lock:
            self._idle.append(conn)  # never more than POOL_SIZE: each holds a slot

    def _drain(self) -> None:
        with self._pool_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _unbind_quietly(conn)

    def _open(self) -> Any:
        """A new connection with TLS verified against ``ca_file``; not yet bound."""
        cfg = self._cfg
        conn = ldap.initialize(cfg.url)
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, cfg.timeout_s)
        conn.set_option(ldap.OPT_TIMEOUT, cfg.timeout_s)
        conn.timeout = cfg.timeout_s  # python-ldap's own wait for synchronous results
        if cfg.ca_file is not None:
            conn.set_option(ldap.OPT_X_TLS_CACERTFILE, str(cfg.ca_file))
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: builds the context from the above
        if cfg.start_tls:
            conn.start_tls_s()
        return conn

    def _bind(self, conn: Any) -> tuple[str, bool]:
        try:
            secret = self._cfg.bind_password.reveal()
        except ConfigError as exc:
            raise ConnectorError(f"Active Directory '{self.name}': {exc}") from exc
        conn.simple_bind_s(self._cfg.bind_dn, secret)
        return f"bound as {self._cfg.bind_dn}", True

    def _read_base(self, conn: Any) -> tuple[str, bool]:
        conn.search_s(self._cfg.user_base, ldap.SCOPE_BASE, "(objectClass=*)", ["objectClass"])
        return f"{self._cfg.user_base} is readable", True

    def _rights(self, conn: Any) -> tuple[str, bool]:
        first = _first_entry(
            conn,
            self._cfg.user_base,
            "(&(objectCategory=person)(objectClass=user))",
            ["allowedAttributesEffective"],
        )
        if first is None:
            return f"no user under {self._cfg.user_base} to check write rights on", False
        dn, attrs = first
        writable = {v.decode().lower() for v in attrs.get("allowedAttributesEffective", [])}
        missing = [a for a in _WRITABLE_NEEDED if a.lower() not in writable]
        if missing:
            return f"may not write {', '.join(missing)} on {dn}", False
        return f"may write {', '.join(_WRITABLE_NEEDED)} on {dn}", True

    def _explain(self, exc: ldap.LDAPError, doing: str) -> str:
        error = translate(exc, target=self.name, doing=doing)
        return f"{error} ({diagnostic(exc)})"


def _unbind_quietly(conn: Any) -> None:
    with contextlib.suppress(ldap.LDAPError):  # already gone, or going
        conn.unbind_s()


def _guid_dn(attrs: Entry) -> str | None:
    """``<GUID=...>``, a DN AD resolves to the object whatever its name, or None."""
    values = attrs.get("objectGUID")
    if not values or len(values[0]) != 16:
        return None
    return f"<GUID={uuid.UUID(bytes_le=values[0])}>"


def _int(attrs: dict[str, list[bytes]], name: str) -> int:
    values = attrs.get(name)
    return int(values[0]) if values else 0


def _first_entry(
    conn: Any, base: str, query: str, attrs: list[str]
) -> tuple[str, dict[str, list[bytes]]] | None:
    """The first entry a subtree search finds (the server stops after one)."""
    msgid = conn.search_ext(base, ldap.SCOPE_SUBTREE, query, attrs, sizelimit=1)
    try:
        while True:
            kind, found = conn.result(msgid, all=0)
            for dn, entry in found:
                if dn:
                    conn.abandon(msgid)
                    return dn, entry
            if kind == ldap.RES_SEARCH_RESULT:
                return None
    except ldap.SIZELIMIT_EXCEEDED:
        return None
