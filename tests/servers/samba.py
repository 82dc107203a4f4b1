"""A throwaway Samba AD domain controller on loopback, once per test session.

``samba-tool domain provision --targetdir`` keeps the whole domain (sam.ldb,
smb.conf, logs, pid files) in a temporary prefix, nothing in /etc or /var.
Samba's own self-signed certificate names the host (``VM.custos.test``), which
127.0.0.1 cannot match under certificate validation, so the fixture gives samba
a certificate for 127.0.0.1 / localhost from its own CA (servers.tls). Only the LDAP
service runs (``server services = ldap``); it listens on the fixed ports 389
and 636: if either is taken the fixture fails, naming the port.

The domain's policy: complexity on, minimum length 8, history 3, minimum age 0,
lockout after 5 bad passwords, ``old password allowed period = 0``.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ldap
import pytest
from contract_harness import Harness
from pydantic import SecretStr

from custos.config import ActiveDirectoryTarget, SecretSource
from custos.connectors.active_directory import ActiveDirectoryConnector, encode_unicode_pwd
from servers import running_pid
from servers.tls import make_tls_files

REALM = "CUSTOS.TEST"
BASE_DN = "DC=custos,DC=test"
USER_BASE = f"CN=Users,{BASE_DN}"
PORTS = (389, 636)
READY_TIMEOUT_S = 90


def strong_password() -> str:
    """A password the domain's complexity rules accept (upper, lower, digit, symbol)."""
    return "Aa1!" + secrets.token_urlsafe(16)


@dataclass
class SambaDC:
    """A running domain controller and the means to populate and break it."""

    prefix: Path
    admin_password: str
    ca_file: Path
    ldaps_url: str = "ldaps://127.0.0.1:636"
    ldap_url: str = "ldap://127.0.0.1:389"
    base_dn: str = BASE_DN
    user_base: str = USER_BASE
    admin_dn: str = f"CN=Administrator,{USER_BASE}"
    admin_upn: str = f"Administrator@{REALM}"
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def smb_conf(self) -> Path:
        return self.prefix / "etc" / "smb.conf"

    @property
    def log_file(self) -> Path:
        return self.prefix / "samba.out"

    @property
    def pid(self) -> int:
        return running_pid(self._process)

    # -- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        """Start samba and wait until an LDAPS bind as Administrator works."""
        for port in PORTS:
            require_free(port)
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                ["samba", "-i", "-M", "single", "-s", str(self.smb_conf)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self._process.poll() is not None:
                self._fail(f"samba exited with status {self._process.returncode}")
            try:
                self.admin().unbind_s()
                return
            except ldap.LDAPError:
                if time.monotonic() > deadline:
                    self.stop()
                    self._fail(f"no LDAPS bind on {self.ldaps_url} within {READY_TIMEOUT_S} s")
                time.sleep(0.3)

    def stop(self) -> None:
        """Stop samba (its whole process group) and wait until the ports are free."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        for port in PORTS:
            _wait_closed(port)

    def _fail(self, why: str) -> None:
        tail = self.log_file.read_text(errors="replace")[-4000:]
        pytest.fail(f"Samba AD DC in {self.prefix}: {why}\n--- samba log ---\n{tail}")

    # -- directory helpers -----------------------------------------------------------
    def connect(self) -> Any:
        """A new LDAPS connection (certificate verified), not bound."""
        conn = ldap.initialize(self.ldaps_url)
        conn.set_option(ldap.OPT_REFERRALS, 0)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 5)
        conn.set_option(ldap.OPT_X_TLS_CACERTFILE, str(self.ca_file))
        conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_DEMAND)
        conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
        return conn

    def admin(self) -> Any:
        conn = self.connect()
        conn.simple_bind_s(self.admin_upn, self.admin_password)
        return conn

    def add_user(self, sam: str, password: str) -> str:
        """Create an enabled user (userPrincipalName ``sam@custos.test``); returns its DN."""
        dn = f"CN={sam},{self.user_base}"
        conn = self.admin()
        try:
            conn.add_s(
                dn,
                [
                    ("objectClass", [b"user"]),
                    ("sAMAccountName", [sam.encode()]),
                    ("userPrincipalName", [f"{sam}@custos.test".encode()]),
                    ("unicodePwd", [encode_unicode_pwd(password)]),
                    ("userAccountControl", [b"512"]),  # NORMAL_ACCOUNT, enabled
                ],
            )
        finally:
            conn.unbind_s()
        return dn

    def read(self, dn: str, *attrs: str) -> dict[str, list[bytes]]:
        conn = self.admin()
        try:
            return dict(conn.search_s(dn, ldap.SCOPE_BASE, attrlist=list(attrs))[0][1])
        finally:
            conn.unbind_s()

    def bind_refusal(self, sam: str, password: str) -> str | None:
        """None when ``sam`` binds with ``password``; else AD's refusal (``data 52e``...)."""
        conn = self.connect()
        try:
            conn.simple_bind_s(f"{sam}@custos.test", password)
        except ldap.INVALID_CREDENTIALS as exc:
            return str(exc.args[0].get("info", "invalid credentials"))
        finally:
            conn.unbind_s()
        return None

    def can_login(self, sam: str, password: str) -> bool:
        """A real simple bind over LDAPS. A password that must be changed first
        (AD's ``data 773``) is not a login: False."""
        return self.bind_refusal(sam, password) is None


def require_free(port: int) -> None:
    """Fail (never skip) when something already listens on ``port``, naming it;
    except a test DC that a killed test run left behind (below), which is
    stopped first."""
    if not _port_free(port):
        leftover = _leftover_test_dcs()
        for pid in leftover:
            _stop_group(pid)
        if leftover:
            _wait_closed(port)
    if not _port_free(port):
        pytest.fail(
            f"port {port} is taken; the Samba AD DC for the tests needs 127.0.0.1:{port} "
            f"(Samba's LDAP ports are fixed). Stop what uses it: {_holders() or 'unknown'}."
        )


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rpartition(")")[2].split()[1])


def _test_dcs() -> list[int]:
    """Pids of ``samba`` processes started by :meth:`SambaDC.start`: their
    configuration lies in a pytest temporary folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        argv = _cmdline(int(entry.name))
        if argv[:1] == ["samba"] and "-s" in argv and "/pytest-of-" in " ".join(argv):
            found.append(int(entry.name))
    return found


def _leftover_test_dcs() -> list[int]:
    """Test DCs whose test run is gone: a run killed before its fixture could
    stop the DC (``timeout`` on pytest, say) leaves it holding 389 and 636,
    adopted by another parent. A DC with a pytest process among its ancestors
    (an xdist worker's parent is one) belongs to a run in progress and is left
    alone."""
    return [pid for pid in _test_dcs() if not _under_pytest(pid)]


def _under_pytest(pid: int) -> bool:
    seen = set()
    while pid > 1 and pid not in seen:
        seen.add(pid)
        pid = _parent(pid)
        if any("pytest" in part for part in _cmdline(pid)):
            return True
    return False


def _stop_group(pid: int) -> None:
    try:
        os.killpg(os.getpgid(pid), signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)


def _holders() -> str:
    """What a running test DC holds the ports (the likely cause), or nothing."""
    return "; ".join(
        f"samba pid {pid} of the test run pid {_parent(pid)} ({' '.join(_cmdline(pid))})"
        for pid in _test_dcs()
    )


def _wait_closed(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return
        time.sleep(0.1)


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv[:3])} failed ({done.returncode}):\n{done.stdout}{done.stderr}")


def provision(prefix: Path) -> SambaDC:
    """Provision the domain into ``prefix`` (not started)."""
    admin_password = strong_password()
    _run(
        "samba-tool", "domain", "provision",
        "--use-rfc2307", f"--realm={REALM}", "--domain=CUSTOS",
        "--server-role=dc", "--dns-backend=NONE",
        f"--adminpass={admin_password}", f"--targetdir={prefix}",
        "--option=interfaces = lo", "--option=bind interfaces only = yes",
    )  # fmt: skip
    (prefix / "tls").mkdir()
    tls = make_tls_files(prefix / "tls", ca_name="Custos test AD CA")
    (prefix / "run").mkdir(exist_ok=True)
    overrides = {
        "server services": "ldap",  # no smbd, kdc, dns, nbt: only what the tests use
        "tls enabled": "yes",
        "tls cafile": tls.ca_file,
        "tls certfile": tls.cert_file,
        "tls keyfile": tls.key_file,
        "old password allowed period": "0",
        "log file": prefix / "log.%m",
        "pid directory": prefix / "run",
        "ntp signd socket directory": prefix / "run" / "ntp_signd",
        "winbindd socket directory": prefix / "run" / "winbindd",
    }
    dc = SambaDC(prefix=prefix, admin_password=admin_password, ca_file=tls.ca_file)
    _override_global(dc.smb_conf, {k: str(v) for k, v in overrides.items()})
    _run(
        "samba-tool", "domain", "passwordsettings", "set", "-s", str(dc.smb_conf),
        "--complexity=on", "--min-pwd-length=8", "--history-length=3", "--min-pwd-age=0",
        "--account-lockout-threshold=5", "--account-lockout-duration=30",
        "--reset-account-lockout-after=30",
    )  # fmt: skip
    return dc


def _override_global(smb_conf: Path, options: dict[str, str]) -> None:
    """Append ``options`` at the end of [global]: a later line wins in smb.conf."""
    lines = smb_conf.read_text().splitlines()
    first_share = next(
        (i for i, line in enumerate(lines) if line.startswith("[") and i > 0), len(lines)
    )
    added = [f"\t{key} = {value}" for key, value in options.items()]
    smb_conf.write_text("\n".join([*lines[:first_share], *added, *lines[first_share:]]) + "\n")


@pytest.fixture(scope="session")
def samba_dc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaDC]:
    """The session's domain controller (provisioned and started once)."""
    for port in PORTS:
        require_free(port)
    dc = provision(tmp_path_factory.mktemp("samba-ad"))
    dc.start()
    try:
        yield dc
    finally:
        dc.stop()


def ad_target(dc: SambaDC, *, bind_dn: str | None = None, password: str | None = None,
              **overrides: Any) -> ActiveDirectoryTarget:  # fmt: skip
    """An LDAPS target on ``dc`` (Administrator unless ``bind_dn`` is given)."""
    settings: dict[str, Any] = {
        "kind": "active_directory",
        "url": dc.ldaps_url,
        "ca_file": dc.ca_file,
        "bind_dn": bind_dn or dc.admin_dn,
        "bind_password": SecretSource(value=SecretStr(password or dc.admin_password)),
        "user_base": dc.user_base,
        "timeout_s": 5,
    }
    settings.update(overrides)
    return ActiveDirectoryTarget.model_validate(settings)


def new_user(dc: SambaDC) -> tuple[str, str]:
    """A fresh enabled user: (sAMAccountName, password)."""
    sam, password = f"u-{secrets.token_hex(4)}", strong_password()
    dc.add_user(sam, password)
    return sam, password


@pytest.fixture(scope="session")
def ad_harness(samba_dc: SambaDC) -> Harness:
    """The contract-suite view of the DC, through an Administrator-bound connector."""
    return Harness(
        kind="ad",
        connector=ActiveDirectoryConnector("ad", ad_target(samba_dc)),
        create_account=lambda: new_user(samba_dc),
        can_login=samba_dc.can_login,
        strong_password=strong_password,
    )
