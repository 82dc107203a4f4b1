"""Batched reads, prepared writes and the connection pool of the Active
Directory connector against a real Samba AD DC (the shared behaviour is in
tests/contract): whenChanged standing in while a change is pending, names
compared as AD compares them, prepared writes that follow the object (its
GUID) through renames, and writes from several threads at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import ldap
import pytest
from servers.samba import SambaDC, ad_target, new_user, strong_password

from custos.connectors.active_directory import ActiveDirectoryConnector
from custos.connectors.errors import UnknownAccount


@pytest.fixture(scope="module")
def ad(samba_dc: SambaDC) -> ActiveDirectoryConnector:
    return ActiveDirectoryConnector("corp-ad", ad_target(samba_dc))


def admin_do(dc: SambaDC, action: str, *args: object) -> None:
    conn = dc.admin()
    try:
        getattr(conn, action)(*args)
    finally:
        conn.unbind_s()


def dn_of(sam: str, dc: SambaDC) -> str:
    return f"CN={sam},{dc.user_base}"


def test_passwords_changed_at_agrees_with_single_reads_while_a_change_is_pending(
    ad: ActiveDirectoryConnector, samba_dc: SambaDC
) -> None:
    """The batched read-back (DESIGN, verifying: read_back) answers as
    password_changed_at does: pwdLastSet, or whenChanged while a change at next
    logon is pending (pwdLastSet 0), so a temporary password verifies too."""
    pending, plain = new_user(samba_dc)[0], new_user(samba_dc)[0]
    before = datetime.now(UTC) - timedelta(seconds=5)
    ad.set_password(pending, strong_password(), must_change=True)
    ad.set_password(plain, strong_password(), must_change=False)
    assert samba_dc.read(dn_of(pending, samba_dc), "pwdLastSet")["pwdLastSet"] == [b"0"]

    found = ad.passwords_changed_at([pending, plain, "no-such-account-42"])

    assert found == {pending: ad.password_changed_at(pending), plain: ad.password_changed_at(plain)}
    assert all((at := found[sam]) and at >= before for sam in (pending, plain))


def test_passwords_changed_at_matches_names_case_insensitively(
    ad: ActiveDirectoryConnector, samba_dc: SambaDC
) -> None:
    """AD compares sAMAccountName case-insensitively; the answer keeps the asked spelling."""
    sam, _ = new_user(samba_dc)
    other, _ = new_user(samba_dc)
    found = ad.passwords_changed_at([sam.upper(), other])
    assert found == {sam.upper(): ad.password_changed_at(sam), other: ad.password_changed_at(other)}


def test_a_prepared_write_follows_a_renamed_object(
    ad: ActiveDirectoryConnector, samba_dc: SambaDC
) -> None:
    """The object got a new CN (so a new DN) after prepare_writes: the write,
    addressed by GUID, still lands on it."""
    sam, old = new_user(samba_dc)
    ad.prepare_writes([sam])
    admin_do(samba_dc, "rename_s", dn_of(sam, samba_dc), f"CN=moved-{sam}")
    password = strong_password()
    ad.set_password(sam, password, must_change=False)
    assert samba_dc.can_login(sam, password) and not samba_dc.can_login(sam, old)


def test_a_prepared_write_goes_to_the_object_found_then_and_only_once(
    ad: ActiveDirectoryConnector, samba_dc: SambaDC
) -> None:
    """prepare_writes saves the search: the write reaches the object found then
    even after its sAMAccountName changed (a search would find no such
    account). Used once: the next write searches, and finds none."""
    sam, _ = new_user(samba_dc)
    ad.prepare_writes([sam])
    admin_do(
        samba_dc,
        "modify_s",
        dn_of(sam, samba_dc),
        [(ldap.MOD_REPLACE, "sAMAccountName", [f"r-{sam}".encode()])],
    )
    password = strong_password()
    ad.set_password(sam, password, must_change=False)
    assert samba_dc.can_login(sam, password)  # the UPN still names the object
    with pytest.raises(UnknownAccount):
        ad.set_password(sam, strong_password(), must_change=False)


def test_a_prepared_write_to_a_deleted_object_is_unknown_account(
    ad: ActiveDirectoryConnector, samba_dc: SambaDC
) -> None:
    sam, _ = new_user(samba_dc)
    ad.prepare_writes([sam, "no-such-account-42"])
    admin_do(samba_dc, "delete_s", dn_of(sam, samba_dc))
    with pytest.raises(UnknownAccount):
        ad.set_password(sam, strong_password(), must_change=False)
    assert ad.passwords_changed_at([sam]) == {}


def test_eight_operations_run_at_once_and_a_ninth_waits(ad: ActiveDirectoryConnector) -> None:
    """The pool lets POOL_SIZE operations hold a connection together (a single
    shared connection would never let eight meet at the barrier); one more
    caller waits until a connection is free."""
    assert ad.POOL_SIZE == 8
    barrier = threading.Barrier(ad.POOL_SIZE, timeout=10)
    release = threading.Event()
    ninth_ran = threading.Event()

    def hold(conn: Any) -> None:
        barrier.wait()
        release.wait(timeout=10)

    with ThreadPoolExecutor(max_workers=ad.POOL_SIZE + 1) as pool:
        held = [pool.submit(ad._call, hold) for _ in range(ad.POOL_SIZE)]
        ninth = pool.submit(ad._call, lambda conn: ninth_ran.set())
        assert not ninth_ran.wait(timeout=1)
        release.set()
        for future in held:
            future.result()  # a BrokenBarrierError here: the operations were serialised
        ninth.result()
    assert ninth_ran.is_set()


def test_writes_from_eight_threads_land_after_a_restart_of_the_dc(
    samba_dc: SambaDC,
) -> None:
    """A full pool goes stale when the DC restarts: each write that draws a stale
    connection drops the pool and runs again on a new one, so no caller sees
    the restart."""
    ad = ActiveDirectoryConnector("corp-ad-pool", ad_target(samba_dc))
    users = dict(new_user(samba_dc) for _ in range(ad.POOL_SIZE))
    with ThreadPoolExecutor(max_workers=ad.POOL_SIZE) as pool:
        assert all(pool.map(lambda _: ad.check_alive(), range(ad.POOL_SIZE * 2)))
    ad.prepare_writes(list(users))  # GUIDs outlive the restart
    samba_dc.stop()
    samba_dc.start()

    new = {sam: strong_password() for sam in users}
    with ThreadPoolExecutor(max_workers=ad.POOL_SIZE) as pool:
        list(pool.map(lambda sam: ad.set_password(sam, new[sam], must_change=False), new))
    for sam, password in new.items():
        assert samba_dc.can_login(sam, password) and not samba_dc.can_login(sam, users[sam])
    assert ad.passwords_changed_at(list(users)).keys() == users.keys()
