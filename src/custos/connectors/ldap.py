"""The OpenLDAP connector (any RFC 3062 directory with the ppolicy overlay).

Contract, per SPI operation (accounts are found by ``account_attribute`` under
``user_base``; every method raises only :mod:`custos.connectors.errors` types,
translated in :mod:`custos.connectors.ldap_errors`):

* ``set_password``: the password modify extended operation (RFC 3062) as the
  service account, then ``pwdReset: TRUE`` when ``must_change``. Without
  ``must_change`` the password modify is the only write: ppolicy removes
  pwdReset itself whenever a password change does not set it (its
  ``zapReset``), so a second write to clear it would change nothing. With
  ``must_change`` it is not atomic (two operations): a retry after a failure in
  between repeats the same password, which counts as done, and sets pwdReset
  again; a repeated password without ``must_change`` removes pwdReset
  explicitly (the refused repeat changed nothing on its own).
* ``password_changed_at``: the operational attribute ``pwdChangedTime`` (UTC).
* ``passwords_changed_at``: the same for many accounts, one search per
  ``BATCH_SIZE`` of them (an OR filter); answers are mapped back by the account
  attribute, compared case-insensitively as LDAP compares names.
* ``prepare_writes``: finds the DNs of accounts about to be written, in the same
  batched searches, so each ``set_password`` skips its own search (see
  :class:`PreparedDns`). Only a DN whose own RDN names the account is kept
  (``uid=alice,...`` for ``alice``): whatever entry holds that DN later is still
  that account, so a prepared write can never land on another account. A write
  to a DN that is gone (renamed, deleted) searches again once.
* ``find_account``: ``enabled`` is false when ``pwdAccountLockedTime`` holds
  ppolicy's permanent lock ``000001010000Z``; any other value means ``locked``;
  ``must_change`` is ``pwdReset``.
* ``unlock``: removes a lockout (``pwdAccountLockedTime``), never the permanent
  lock that means disabled.
* ``set_enabled``: sets or removes the permanent lock.
* ``force_change``: ``pwdReset: TRUE``.
* ``list_accounts``: every account entry under ``user_base`` (paged search).
* ``authenticate``: a simple bind as the account's own entry (subject sign-in).
* ``test`` / ``check_alive``: connection and TLS, bind, user base, permissions.

OpenLDAP keeps no sessions, so there is no ``revoke_sessions``. Every operation
takes a bound connection of its own from a small pool (TLS verified against
``ca_file``, timeouts from ``timeout_s``, no referral chasing) and gives it back
afterwards; a connection-level failure drops the whole pool. So the connector is
safe to share between threads and recovers by itself once a stopped server is
back.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import ldap
import ldap.dn
import structlog
from ldap.controls import SimplePagedResultsControl
from ldap.filter import escape_filter_chars

from custos.config import ConfigError, LdapTarget
from custos.connectors.errors import ConnectorError, UnknownAccount
from custos.connectors.ldap_errors import mapped, server_info, unbind_quietly
from custos.connectors.ldap_probe import run_test
from custos.connectors.spi import AccountInfo, AccountRecord, TestStep
from custos.connectors.spi import fold_dn as _fold_dn

#: ppolicy's "locked until an administrator unlocks it", used here to mean disabled.
PERMANENT_LOCK = "000001010000Z"
_STATE_ATTRS = ["pwdAccountLockedTime", "pwdReset", "pwdChangedTime", "pwdFailureTime"]

#: ppolicy's words when the new password is the current one.
_UNCHANGED = "Password is not being changed from existing value"

Entry = dict[str, list[bytes]]

#: Accounts per search when many are looked up at once (one OR filter each):
#: well under slapd's default size limit (500) and AD's page size (1000).
BATCH_SIZE = 100

log = structlog.get_logger("custos.connectors")


def parse_generalized_time(value: str) -> datetime:
    """An aware UTC datetime from LDAP GeneralizedTime (``20250102030405Z``,
    fractions and ``+hhmm`` offsets allowed). Raises ValueError when malformed."""
    text = value.strip()
    offset = timedelta(0)
    if text.endswith("Z"):
        text = text[:-1]
    elif len(text) > 5 and text[-5] in "+-":
        sign = 1 if text[-5] == "+" else -1
        offset = sign * timedelta(hours=int(text[-4:-2]), minutes=int(text[-2:]))
        text = text[:-5]
    whole, _, fraction = text.replace(",", ".").partition(".")
    parsed = datetime.strptime(whole, "%Y%m%d%H%M%S")
    micros = int((fraction + "000000")[:6]) if fraction else 0
    aware = parsed.replace(microsecond=micros, tzinfo=timezone(offset))
    return aware.astimezone(UTC)


def _first(entry: Entry, attribute: str) -> str | None:
    for name, values in entry.items():
        if name.lower() == attribute.lower() and values:
            return values[0].decode("utf-8")
    return None


def _values(entry: Entry, attribute: str) -> list[bytes]:
    for name, values in entry.items():
        if name.lower() == attribute.lower():
            return values
    return []


def fold(account_id: str) -> str:
    """An account name compared case-insensitively, as directories compare names.
    Deliberately no looser than the server (``lower``, not ``casefold``): two
    names folded alike are one account to any directory."""
    return account_id.lower()


def accounts_filter(object_filter: str, attribute: str, account_ids: Sequence[str]) -> str:
    """``(&<object_filter>(attribute=id))`` for one id, with ``(|...)`` around
    the terms for several; every value escaped (RFC 4515)."""
    terms = "".join(f"({attribute}={escape_filter_chars(account)})" for account in account_ids)
    return f"(&{object_filter}{terms if len(account_ids) == 1 else f'(|{terms})'})"


def find_accounts(
    search: Callable[[str], list[tuple[str, Entry]]],
    object_filter: str,
    attribute: str,
    account_ids: Iterable[str],
) -> dict[str, list[tuple[str, Entry]]]:
    """The entries claiming each account, keyed by :func:`fold` of the id; an id
    no entry claims is absent. One ``search(filter)`` per ``BATCH_SIZE`` distinct
    ids; the search must return the ``attribute`` values. An entry whose values
    match none of the ids asked (the server compares more loosely, e.g. ignoring
    spaces, or hides the attribute from us) makes its whole batch be asked again
    one id at a time. The entries found for a lone id are all that id's, as the
    server matched them. So an id is never answered with another account's
    entry; at worst one the server equates with another id of the same batch
    goes unanswered."""
    distinct: dict[str, str] = {}
    for account in account_ids:
        distinct.setdefault(fold(account), account)
    names = list(distinct.values())
    found: dict[str, list[tuple[str, Entry]]] = {}
    for start in range(0, len(names), BATCH_SIZE):
        batch = names[start : start + BATCH_SIZE]
        entries = search(accounts_filter(object_filter, attribute, batch))
        if len(batch) == 1:
            if entries:
                found[fold(batch[0])] = entries
            continue
        asked = {fold(account) for account in batch}
        claims: dict[str, list[tuple[str, Entry]]] = {}
        unmatched = False
        for dn, entry in entries:
            owners = {fold(v.decode("utf-8", "replace")) for v in _values(entry, attribute)}
            unmatched = unmatched or not owners & asked
            for owner in owners & asked:
                claims.setdefault(owner, []).append((dn, entry))
        if unmatched:
            log.debug("ldap_batch_unmatched", attribute=attribute, accounts=len(batch))
            claims = {}
            for account in batch:
                if alone := search(accounts_filter(object_filter, attribute, [account])):
                    claims[fold(account)] = alone
        found.update(claims)
    return found


class PreparedDns:
    """DNs looked up ahead of writes (``prepare_writes``), per folded account id.
    Each is handed out once; beyond ``limit`` the oldest are dropped (a batch
    that never came to its writes must not grow the cache for ever). Safe to
    share between threads."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._dns: dict[str, str] = {}
        self._lock = threading.Lock()

    def put(self, dns: dict[str, str]) -> None:
        with self._lock:
            for account, dn in dns.items():
                self._dns.pop(fold(account), None)  # re-inserted as the newest
                self._dns[fold(account)] = dn
            for oldest in list(self._dns)[: max(0, len(self._dns) - self.limit)]:
                del self._dns[oldest]

    def take(self, account_id: str) -> str | None:
        """The DN prepared for ``account_id``, removed from the cache; None if none."""
        with self._lock:
            return self._dns.pop(fold(account_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._dns)


_CONNECTION_LOST = (ldap.SERVER_DOWN, ldap.TIMEOUT, ldap.CONNECT_ERROR)
FoundEntries = dict[str, list[tuple[str, Entry]]]


class LdapConnector:
    """Connector for the OpenLDAP target ``name`` configured by ``cfg``."""

    #: Entries per page when listing accounts (slapd's default size limit is 500).
    page_size = 500

    #: Bound connections kept for reuse; a TLS handshake and a bind per operation
    #: would cost more than the operation itself.
    POOL_SIZE = 16

    def __init__(self, name: str, cfg: LdapTarget) -> None:
        self.name = name
        self.cfg = cfg
        self._idle: list[Any] = []
        self._pool_lock = threading.Lock()
        self._prepared = PreparedDns()

    # -- connections ---------------------------------------------------------------
    def uses_tls(self) -> bool:
        return self.cfg.url.lower().startswith("ldaps://") or self.cfg.start_tls

    def open(self) -> Any:
        """A configured, not yet bound connection (StartTLS done when configured).
        Raises python-ldap errors: callers translate them."""
        conn: Any = ldap.initialize(self.cfg.url)
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, ldap.VERSION3)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, self.cfg.timeout_s)
        conn.set_option(ldap.OPT_TIMEOUT, self.cfg.timeout_s)
        conn.timeout = self.cfg.timeout_s  # python-ldap's own wait for synchronous results
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        if self.cfg.ca_file is not None:
            conn.set_option(ldap.OPT_X_TLS_CACERTFILE, str(self.cfg.ca_file))
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)  # last: applies the TLS options above
        if self.cfg.start_tls and not self.cfg.url.lower().startswith("ldaps://"):
            try:
                conn.start_tls_s()
            except BaseException:
                unbind_quietly(conn)
                raise
        return conn

    def bind_password(self) -> str:
        """The service account's password; raises ConnectorError when unavailable."""
        try:
            return self.cfg.bind_password.reveal()
        except ConfigError as exc:
            raise ConnectorError(f"target '{self.name}': bind password unavailable: {exc}") from exc

    def tls_mode(self) -> str:
        """How the connection is protected, in words for answers and test steps."""
        if not self.uses_tls():
            return "no TLS"
        trust = f"CA file {self.cfg.ca_file}" if self.cfg.ca_file else "the system CAs"
        kind = "LDAPS" if self.cfg.url.lower().startswith("ldaps://") else "StartTLS"
        return f"{kind}, server certificate verified against {trust}"

    @contextmanager
    def session(self, action: str, *, secret: str | None = None) -> Iterator[Any]:
        """A connection bound as the service account, from the pool or new, returned
        to the pool afterwards unless it failed at the connection level (then the
        whole pool is dropped: a restarted server makes them all stale, and the
        caller's retry gets a fresh one). python-ldap errors inside the block are
        translated (``secret`` kept out of messages)."""
        conn = self._take()
        if conn is None:
            password = self.bind_password()
            where = f"{self.name}: {action}: bind as {self.cfg.bind_dn} at {self.cfg.url} "
            with mapped(f"{where}({self.tls_mode()})", secret=password):
                conn = self.open()
                try:
                    conn.simple_bind_s(self.cfg.bind_dn, password)
                except BaseException:
                    unbind_quietly(conn)
                    raise
        healthy = False
        try:
            with mapped(f"{self.name}: {action}", secret=secret):
                try:
                    yield conn
                    healthy = True
                except _CONNECTION_LOST:
                    self._drain()  # the server went away: every idle connection is stale
                    raise
                except ldap.LDAPError:
                    healthy = True  # an answer from a live server: the connection is fine
                    raise
        finally:
            if healthy:
                self._give_back(conn)
            else:
                unbind_quietly(conn)

    def _take(self) -> Any | None:
        with self._pool_lock:
            return self._idle.pop() if self._idle else None

    def _give_back(self, conn: Any) -> None:
        with self._pool_lock:
            if len(self._idle) < self.POOL_SIZE:
                self._idle.append(conn)
                return
        unbind_quietly(conn)

    def _drain(self) -> None:
        with self._pool_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            unbind_quietly(conn)

    def search(
        self, conn: Any, base: str, scope: int, filterstr: str, attrs: list[str]
    ) -> list[tuple[str, Entry]]:
        found = conn.search_ext_s(base, scope, filterstr, attrs, timeout=self.cfg.timeout_s)
        # With referrals off, continuation references come back with no DN.
        return [(dn, cast(Entry, entry)) for dn, entry in found if dn is not None]

    def _find(self, conn: Any, account_ids: Iterable[str], attrs: list[str]) -> FoundEntries:
        """Entries per folded account id (see :func:`find_accounts`), read with
        ``attrs`` and the account attribute; none when the user base is missing."""
        named = self.cfg.account_attribute
        wanted = [a for a in attrs if a != "1.1" and a.lower() != named.lower()] + [named]

        def search(filterstr: str) -> list[tuple[str, Entry]]:
            try:
                return self.search(conn, self.cfg.user_base, ldap.SCOPE_SUBTREE, filterstr, wanted)
            except ldap.NO_SUCH_OBJECT:
                return []  # the user base itself is missing or hidden from us

        object_filter = f"(objectClass={self.cfg.user_object_class})"
        return find_accounts(search, object_filter, named, account_ids)

    def _entry(self, conn: Any, account_id: str, attrs: list[str]) -> tuple[str, Entry] | None:
        found = self._find(conn, [account_id], attrs).get(fold(account_id), [])
        if len(found) > 1:
            raise ConnectorError(
                f"{self.name}: {len(found)} entries have "
                f"{self.cfg.account_attribute}={account_id}; refusing to guess"
            )
        return found[0] if found else None

    def _time(self, entry: Entry, attribute: str) -> datetime | None:
        value = _first(entry, attribute)
        if value is None:
            return None
        try:
            return parse_generalized_time(value)
        except ValueError as exc:
            raise ConnectorError(f"{self.name}: unreadable {attribute} {value!r}") from exc

    def _require(self, conn: Any, account_id: str, attrs: list[str]) -> tuple[str, Entry]:
        found = self._entry(conn, account_id, attrs)
        if found is None:
            raise UnknownAccount(f"no account '{account_id}' in directory '{self.name}'")
        return found

    # -- SPI -------------------------------------------------------------------------
    def set_password(self, account_id: str, password: str, *, must_change: bool) -> str:
        """A repeat of the current password (a resumed request) counts as done: ppolicy
        says so in words; any other refusal, history included, is PasswordPolicy.
        Uses the DN ``prepare_writes`` found, once; if that entry is gone
        (renamed, deleted), searches the account again and writes once more."""
        prepared = self._prepared.take(account_id)
        with self.session("set password", secret=password) as conn:
            if prepared is not None:
                try:
                    return self._replace_password(conn, prepared, password, must_change)
                except ldap.NO_SUCH_OBJECT:
                    log.debug("ldap_prepared_dn_gone", target=self.name, account=account_id)
            dn, _ = self._require(conn, account_id, ["1.1"])
            return self._replace_password(conn, dn, password, must_change)

    def _replace_password(self, conn: Any, dn: str, password: str, must_change: bool) -> str:
        try:
            conn.passwd_s(dn, None, password)
            answer = "password replaced (RFC 3062 password modify)"
            if not must_change:
                return answer  # ppolicy removed any pwdReset with the change
        except ldap.CONSTRAINT_VIOLATION as exc:
            if server_info(exc, password) != _UNCHANGED:
                raise
            answer = "password already had this value (a repeated request)"
        reset = [b"TRUE"] if must_change else None
        conn.modify_s(dn, [(ldap.MOD_REPLACE, "pwdReset", reset)])
        return answer + ("; change required at next logon" if must_change else "")

    def prepare_writes(self, account_ids: Sequence[str]) -> None:
        """Find the DNs of ``account_ids`` in one search per ``BATCH_SIZE``, for the
        next ``set_password`` of each. Kept: a DN whose RDN names the account (so
        no other account can ever hold it) and that no other entry shares the
        name with. Never raises: on any failure the writes search for themselves."""
        if not account_ids:
            return
        try:
            with self.session("prepare writes") as conn:
                found = self._find(conn, account_ids, ["1.1"])
        except Exception as exc:  # best effort by contract: the writes still work without
            log.debug("ldap_prepare_writes_failed", target=self.name, error=repr(exc))
            return
        self._prepared.put(
            {
                account: entries[0][0]
                for account, entries in found.items()
                if len(entries) == 1 and self._names_account(entries[0][0], account)
            }
        )

    def _names_account(self, dn: str, folded_account: str) -> bool:
        """Whether the DN's RDN is ``<account attribute>=<the account>``."""
        try:
            rdn = ldap.dn.str2dn(dn)[0]
        except (ldap.DECODING_ERROR, IndexError):
            return False
        attribute = self.cfg.account_attribute.lower()
        return any(
            name.lower() == attribute and fold(value) == folded_account for name, value, _ in rdn
        )

    def authenticate(self, account_id: str, password: str) -> bool:
        """A simple bind as the account's entry on a connection of its own (same
        TLS as the service account's). An empty password is refused before any
        bind: LDAP would take it as an anonymous bind and "succeed"."""
        if not password:
            return False
        with self.session("find account to authenticate") as conn:
            found = self._entry(conn, account_id, ["1.1"])
        if found is None:
            return False
        where = f"{self.name}: authenticate {account_id} ({self.tls_mode()})"
        with mapped(where, secret=password):
            user_conn = self.open()
            try:
                user_conn.simple_bind_s(found[0], password)
            except ldap.INVALID_CREDENTIALS:
                return False  # wrong password, or ppolicy refuses a locked account
            finally:
                unbind_quietly(user_conn)
        return True

    def password_changed_at(self, account_id: str) -> datetime | None:
        with self.session("read password change time") as conn:
            _, entry = self._require(conn, account_id, ["pwdChangedTime"])
        return self._time(entry, "pwdChangedTime")

    def passwords_changed_at(self, account_ids: Sequence[str]) -> dict[str, datetime | None]:
        """``pwdChangedTime`` of many accounts, one search per ``BATCH_SIZE``. An
        account several entries claim, or with an unreadable time, is left out
        (``password_changed_at`` says why)."""
        if not account_ids:
            return {}
        with self.session("read password change times") as conn:
            found = self._find(conn, account_ids, ["pwdChangedTime"])
        times: dict[str, datetime | None] = {}
        for account in account_ids:
            entries = found.get(fold(account), [])
            if len(entries) > 1:
                log.warning("ldap_ambiguous_account", target=self.name, account=account)
            if len(entries) != 1:
                continue
            try:
                times[account] = self._time(entries[0][1], "pwdChangedTime")
            except ConnectorError as exc:
                log.warning("ldap_unreadable_change_time", target=self.name, error=str(exc))
        return times

    def find_account(self, account_id: str) -> AccountInfo | None:
        with self.session("find account") as conn:
            found = self._entry(conn, account_id, [self.cfg.account_attribute, *_STATE_ATTRS])
        if found is None:
            return None
        _, entry = found
        lock = _first(entry, "pwdAccountLockedTime")
        return AccountInfo(
            account_id=_first(entry, self.cfg.account_attribute) or account_id,
            enabled=lock != PERMANENT_LOCK,
            locked=lock is not None and lock != PERMANENT_LOCK,
            must_change=(_first(entry, "pwdReset") or "").upper() == "TRUE",
            password_changed_at=self._time(entry, "pwdChangedTime"),
        )

    def force_change(self, account_id: str) -> None:
        """``pwdReset: TRUE``: ppolicy lets the next bind do nothing but change the password."""
        with self.session("force change") as conn:
            dn, _ = self._require(conn, account_id, ["1.1"])
            conn.modify_s(dn, [(ldap.MOD_REPLACE, "pwdReset", [b"TRUE"])])

    def list_accounts(self) -> Iterator[AccountRecord]:
        """Every ``user_object_class`` entry under ``user_base``, read in pages
        (RFC 2696) and complete before the first is yielded, so no connection is
        held while the caller works. Attributes: the account attribute, mail, cn,
        displayName, the correlation attribute and every attribute the target's
        attribute mapping reads, when the entry has them. With a mapping, also the
        groups found by ``group_search_base`` and the mapping filters each entry
        matches (one search per filter, evaluated by the directory)."""
        wanted = [self.cfg.account_attribute, "mail", "cn", "displayName"]
        if self.cfg.correlation_attribute:
            wanted.append(self.cfg.correlation_attribute)
        mapping = self.cfg.mapping
        if mapping is not None:
            wanted += [a for a in mapping.attributes() if a not in wanted]
        users = f"(objectClass={self.cfg.user_object_class})"
        records: list[AccountRecord] = []
        with self.session("list accounts") as conn:
            groups = self._group_members(conn) if mapping and mapping.group_search_base else {}
            matched: dict[str, set[str]] = defaultdict(set)
            for text in mapping.filters() if mapping else []:
                for dn, _ in self._paged_dn(conn, f"(&{users}{text})", ["1.1"]):
                    matched[_fold_dn(dn)].add(text)
            for dn, entry in self._paged_dn(conn, users, wanted):
                attributes = {name: value for name in wanted if (value := _first(entry, name))}
                values = {
                    name: tuple(v.decode("utf-8", "replace") for v in entry[name])
                    for name in wanted
                    if entry.get(name)
                }
                key = mapping.groups_key if mapping else None
                if key and _fold_dn(dn) in groups:
                    values[key] = tuple(dict.fromkeys(values.get(key, ()) + groups[_fold_dn(dn)]))
                account_id = attributes.get(self.cfg.account_attribute)
                if account_id:  # an entry without the naming attribute cannot be addressed
                    records.append(
                        AccountRecord(
                            account_id=account_id,
                            attributes=attributes,
                            values=values,
                            dn=dn,
                            matched_filters=frozenset(matched.get(_fold_dn(dn), ())),
                        )
                    )
        yield from records

    def _group_members(self, conn: Any) -> dict[str, tuple[str, ...]]:
        """Folded member DN -> the DNs of the groupOfNames / groupOfUniqueNames
        entries under the mapping's ``group_search_base`` that list it."""
        assert self.cfg.mapping is not None and self.cfg.mapping.group_search_base
        found: dict[str, list[str]] = defaultdict(list)
        query = "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
        for group_dn, entry in self._paged_dn(
            conn, query, ["member", "uniqueMember"], base=self.cfg.mapping.group_search_base
        ):
            for raw in entry.get("member", []) + entry.get("uniqueMember", []):
                # uniqueMember may carry an "#'0101'B" uid suffix (RFC 4517).
                member = raw.decode("utf-8", "replace").split("#", 1)[0]
                found[_fold_dn(member)].append(group_dn)
        return {dn: tuple(groups) for dn, groups in found.items()}

    def _paged(self, conn: Any, filterstr: str, attrs: list[str]) -> Iterator[Entry]:
        yield from (entry for _, entry in self._paged_dn(conn, filterstr, attrs))

    def _paged_dn(
        self, conn: Any, filterstr: str, attrs: list[str], *, base: str | None = None
    ) -> Iterator[tuple[str, Entry]]:
        paging = SimplePagedResultsControl(True, size=self.page_size, cookie="")
        while True:
            msgid = conn.search_ext(
                base or self.cfg.user_base,
                ldap.SCOPE_SUBTREE,
                filterstr,
                attrs,
                serverctrls=[paging],
            )
            _, found, _, controls = conn.result3(msgid, timeout=self.cfg.timeout_s)
            yield from ((dn, cast(Entry, entry)) for dn, entry in found if dn is not None)
            cookie = next((c.cookie for c in controls if c.controlType == paging.controlType), b"")
            if not cookie:
                return
            paging.cookie = cookie

    def unlock(self, account_id: str) -> None:
        """Remove a lockout. ``pwdFailureTime`` is not user-modifiable in OpenLDAP;
        ppolicy clears it at the account's next successful bind."""
        with self.session("unlock") as conn:
            dn, entry = self._require(conn, account_id, _STATE_ATTRS)
            if _first(entry, "pwdAccountLockedTime") not in (None, PERMANENT_LOCK):
                conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdAccountLockedTime", None)])

    def set_enabled(self, account_id: str, enabled: bool) -> None:
        """Disable: the permanent lock. Enable: remove it (a lockout stays: see unlock)."""
        with self.session("enable" if enabled else "disable") as conn:
            dn, entry = self._require(conn, account_id, _STATE_ATTRS)
            if not enabled:
                conn.modify_s(
                    dn, [(ldap.MOD_REPLACE, "pwdAccountLockedTime", [PERMANENT_LOCK.encode()])]
                )
            elif _first(entry, "pwdAccountLockedTime") == PERMANENT_LOCK:
                conn.modify_s(dn, [(ldap.MOD_DELETE, "pwdAccountLockedTime", None)])

    def test(self) -> list[TestStep]:
        return run_test(self)

    def check_alive(self) -> bool:
        """Connect, bind and ask who we are; False on any failure."""
        try:
            with self.session("check alive") as conn:
                conn.whoami_s()
        except ConnectorError:
            return False
        return True

    def __repr__(self) -> str:
        return f"LdapConnector({self.name!r}, url={self.cfg.url!r})"
