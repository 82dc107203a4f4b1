"""A real LemonLDAP::NG 2.x (Debian's ``lemonldap-ng``) on loopback: its portal
and a manager serving the sessions explorer and the Manager API v1, for the
LemonLDAP::NG connector's tests.

``launch(folder, backend)`` writes, under ``folder``:

* ``lemonldap-ng.ini`` (found through ``LLNG_DEFAULTCONFFILE``) and
  ``conf/lmConf-1.json``: the File configuration backend; LDAP authentication
  and user database pointed at the test slapd (bound as its read-only service
  account; ``slapd_backend``) or at the Samba AD domain controller over LDAPS
  with its CA (``samba_backend``), ``whatToTrace = uid`` (the account name);
  SSO and persistent sessions in ``Apache::Session::File`` folders under
  ``folder``, and the handlers' local
  session cache (``Cache::FileCache``) there too, shared by both processes as
  it is shared by the processes of one host;
  ``handlerInternalCache`` is 0 (see the comment there);
* ``manager.psgi``: ``Lemonldap::NG::Manager`` with the ``sessions`` and
  ``api`` modules and no LemonLDAP::NG protection, behind HTTP Basic
  (``Plack::Middleware::Auth::Basic``), which is how the packaged API vhost is
  meant to be protected (by the web server in front of it).

The portal (``portal/htdocs/index.psgi``) runs under Starman on
``http://127.0.0.1:<free>/``; the manager runs under Starman with TLS (the
certificate of ``servers.tls``) on ``https://127.0.0.1:<free>/``. A missing
binary or package fails the test; it never skips.

Second factors are kept by LemonLDAP::NG in the user's persistent session
(``_2fDevices``); ``add_second_factor`` writes one there through
``Lemonldap::NG::Common::Session``, as the portal's registration does once the
user has proved the device."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from contract_harness import Harness
from pydantic import SecretStr

from custos.config import LemonLdapTarget, SecretSource
from custos.connectors.lemonldap import LemonLdapConnector
from servers.samba import SambaDC
from servers.slapd import SlapdServer, strong_password
from servers.tls import make_tls_files

PORTAL_PSGI = Path("/usr/share/lemonldap-ng/portal/htdocs/index.psgi")
PORTAL_TEMPLATES = Path("/usr/share/lemonldap-ng/portal/templates")
MANAGER_TEMPLATES = Path("/usr/share/lemonldap-ng/manager/htdocs/templates")
START_TIMEOUT_S = 60.0
COOKIE = "lemonldap"
API_USER = "custos"

_MANAGER_PSGI = """\
use strict;
use Plack::Builder;
use Lemonldap::NG::Manager;

my $app = Lemonldap::NG::Manager->run(
    { enabledModules => "sessions, api", protection => "none" } );
my $user     = $ENV{LLNG_TEST_API_USER};
my $password = $ENV{LLNG_TEST_API_PASSWORD};
builder {
    enable "Auth::Basic", realm => "llng-api", authenticator => sub {
        return $_[0] eq $user && $_[1] eq $password;
    };
    $app;
};
"""

# Writes one second factor into the persistent session of a user, as the
# portal's registration modules do: _2fDevices is a JSON array of devices.
_ADD_2F = """\
use strict;
use JSON;
use Lemonldap::NG::Common::Session;
use Lemonldap::NG::Common::Util qw(getPSessionID);
my ( $dir, $uid, $type, $name ) = @ARGV;
my $id = getPSessionID($uid);    # how the portal names the persistent session
my $opts = { Directory => $dir, LockDirectory => "$dir/lock" };
my $s = Lemonldap::NG::Common::Session->new( {
        storageModule        => "Apache::Session::File",
        storageModuleOptions => $opts,
        id                   => $id,
        force                => 1,
        kind                 => "Persistent",
        info                 => { _session_uid => $uid },
} );
die $s->error if $s->error;
my $devices = $s->data->{_2fDevices} ? from_json( $s->data->{_2fDevices} ) : [];
push @$devices, { type => $type, name => $name, epoch => time() + @$devices,
    _secret => "not-a-real-secret" };
$s->update( { _2fDevices => to_json($devices), _session_uid => $uid } );
die $s->error if $s->error;
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _starman() -> str:
    found = shutil.which("starman")
    if not found:
        pytest.fail("starman not found: install the Debian packages lemonldap-ng and starman")
    if not PORTAL_PSGI.is_file():
        pytest.fail(f"{PORTAL_PSGI} not found: install the Debian package lemonldap-ng")
    return found


@dataclass(frozen=True)
class LdapBackend:
    """The directory the portal authenticates against: the test slapd
    (``slapd_backend``) or the Samba AD domain controller (``samba_backend``)."""

    url: str
    base: str
    bind_dn: str
    bind_password: str
    account_attribute: str
    object_class: str
    ca_file: Path | None = None


def slapd_backend(slapd: SlapdServer) -> LdapBackend:
    return LdapBackend(
        slapd.ldap_url.rstrip("/"),
        slapd.people_base,
        slapd.readonly_dn,
        slapd.readonly_password,
        "uid",
        "inetOrgPerson",
    )


def samba_backend(dc: SambaDC) -> LdapBackend:
    """Samba AD over LDAPS (it refuses simple binds in clear), bound as its
    Administrator; users found by sAMAccountName."""
    return LdapBackend(
        dc.ldaps_url, dc.user_base, dc.admin_dn, dc.admin_password, "sAMAccountName", "user",
        dc.ca_file,
    )  # fmt: skip


def _lmconf(folder: Path, backend: LdapBackend, portal: str) -> dict[str, object]:
    def storage(name: str) -> dict[str, str]:
        where = folder / name
        (where / "lock").mkdir(parents=True)
        return {"Directory": str(where), "LockDirectory": str(where / "lock")}

    user_filter = f"(&({backend.account_attribute}=$user)(objectClass={backend.object_class}))"
    tls = {"ldapVerify": "require", "ldapCAFile": str(backend.ca_file)} if backend.ca_file else {}
    return {
        "cfgNum": 1,
        "cfgAuthor": "custos tests",
        "cfgDate": str(int(time.time())),
        "cfgVersion": "2.16.1",
        "key": secrets.token_hex(16),
        "authentication": "LDAP",
        "userDB": "Same",
        "passwordDB": "Null",
        "registerDB": "Null",
        "ldapServer": backend.url,
        "ldapBase": backend.base,
        "managerDn": backend.bind_dn,
        "managerPassword": backend.bind_password,
        "AuthLDAPFilter": user_filter,
        "LDAPFilter": user_filter,
        "ldapExportedVars": {"uid": backend.account_attribute, "cn": "cn"},
        **tls,
        "exportedVars": {},
        "whatToTrace": "uid",
        "globalStorage": "Apache::Session::File",
        "globalStorageOptions": storage("sessions"),
        "persistentStorage": "Apache::Session::File",
        "persistentStorageOptions": storage("psessions"),
        # Each handler process (the portal is one) keeps the last session it
        # checked in memory for this many seconds (15 by default) without
        # asking the backend: a deleted session would live on that long. Off
        # here so a test sees the deletion at once (docs/connectors.md says so).
        "handlerInternalCache": 0,
        "localSessionStorage": "Cache::FileCache",
        "localSessionStorageOptions": {
            "namespace": "lemonldap-ng-sessions",
            "default_expires_in": 600,
            "cache_root": str(folder / "cache"),
            "cache_depth": 3,
        },
        "portal": portal,
        "domain": "127.0.0.1",
        "cookieName": COOKIE,
        "securedCookie": 0,
        "requireToken": 0,
        "timeout": 72000,
        "notification": 0,
        "locationRules": {},
        "exportedHeaders": {},
        "applicationList": {},
        "macros": {},
        "groups": {},
    }


def _ini(folder: Path) -> str:
    return f"""\
[all]
logLevel = warn
checkTime = 1

[configuration]
type = File
dirName = {folder / "conf"}
localStorage = Cache::FileCache
localStorageOptions = {{ 'namespace' => 'lemonldap-ng-config', \\
    'default_expires_in' => 600, 'cache_root' => '{folder / "cache"}', 'cache_depth' => 3 }}

[portal]
staticPrefix = /static
templateDir = {PORTAL_TEMPLATES}
languages = en

[handler]
status = 0

[manager]
staticPrefix = /static
templateDir = {MANAGER_TEMPLATES}
languages = en
"""


@dataclass
class LemonLdapServer:
    """A running portal and manager; ``stop()`` ends both."""

    folder: Path
    portal_port: int
    manager_port: int
    ca_file: Path
    api_password: str
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def portal_url(self) -> str:
        return f"http://127.0.0.1:{self.portal_port}/"

    @property
    def manager_url(self) -> str:
        return f"https://127.0.0.1:{self.manager_port}"

    @property
    def sessions_dir(self) -> Path:
        return self.folder / "sessions"

    @property
    def persistent_dir(self) -> Path:
        return self.folder / "psessions"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "LLNG_DEFAULTCONFFILE": str(self.folder / "lemonldap-ng.ini"),
            "LLNG_TEST_API_USER": API_USER,
            "LLNG_TEST_API_PASSWORD": self.api_password,
        }

    # -- the user's side -------------------------------------------------------------
    def sign_in(self, uid: str, password: str) -> str | None:
        """Sign ``uid`` in through the portal (the login form's POST, asking for
        JSON); returns the value of the ``lemonldap`` cookie the portal set, or
        None when the portal refused the credentials."""
        response = httpx.post(
            self.portal_url,
            data={"user": uid, "password": password},
            headers={"Accept": "application/json"},
            timeout=20,
        )
        if response.status_code != 200 or response.json().get("result") != 1:
            return None
        cookie = response.cookies.get(COOKIE)
        assert cookie, f"the portal signed {uid} in without setting the {COOKIE} cookie"
        return cookie

    def is_signed_in(self, cookie: str) -> bool:
        """Whether the portal takes ``cookie`` as a live session (its JSON answer
        to ``GET /`` with the cookie: result 1 with the session, or 401)."""
        response = httpx.get(
            self.portal_url,
            headers={"Accept": "application/json", "Cookie": f"{COOKIE}={cookie}"},
            timeout=20,
        )
        if response.status_code == 401:
            return False
        assert response.status_code == 200, response.text[:500]
        return bool(response.json().get("result") == 1)

    def add_second_factor(self, uid: str, kind: str, name: str) -> None:
        """Register a second factor of ``kind`` (TOTP, WebAuthn, U2F...) for ``uid``."""
        done = subprocess.run(
            ["perl", "-e", _ADD_2F, str(self.persistent_dir), uid, kind, name],
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def session_files(self) -> list[Path]:
        """The SSO session files on disk (what the File backend holds)."""
        return [p for p in self.sessions_dir.iterdir() if p.is_file()]

    def sessions_of(self, uid: str, kind: str = "global") -> int:
        """How many sessions of ``kind`` the Manager's sessions explorer finds
        for ``uid`` (read here with its own HTTP call, not the connector's)."""
        key = "_session_uid" if kind == "persistent" else "_whatToTrace"
        response = httpx.get(
            f"{self.manager_url}/sessions/{kind}",
            params={key: uid},
            auth=(API_USER, self.api_password),
            verify=ssl.create_default_context(cafile=str(self.ca_file)),
            timeout=20,
        )
        response.raise_for_status()
        return int(response.json()["count"])

    # -- Custos's side ---------------------------------------------------------------
    def target(self, **overrides: object) -> LemonLdapTarget:
        values: dict[str, object] = {
            "kind": "lemonldap",
            "url": self.manager_url,
            "username": API_USER,
            "password": SecretSource(value=SecretStr(self.api_password)),
            "ca_file": self.ca_file,
            "timeout_s": 20,
        }
        values.update(overrides)
        return LemonLdapTarget.model_validate(values)

    # -- processes -------------------------------------------------------------------
    def start(self, cert_file: Path, key_file: Path) -> None:
        starman = _starman()
        portal = [
            starman,
            "--workers",
            "2",
            "--listen",
            f"127.0.0.1:{self.portal_port}",
            str(PORTAL_PSGI),
        ]
        manager = [
            starman,
            "--workers",
            "2",
            "--listen",
            f"127.0.0.1:{self.manager_port}:ssl",
            "--enable-ssl",
            "--ssl-cert",
            str(cert_file),
            "--ssl-key",
            str(key_file),
            str(self.folder / "manager.psgi"),
        ]
        for name, command in (("portal", portal), ("manager", manager)):
            with (self.folder / f"{name}.log").open("ab") as log:
                self._processes.append(
                    subprocess.Popen(
                        command,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        env=self.env(),
                        cwd=self.folder,
                    )
                )
        self._wait(self.portal_url, verify=True, name="portal")
        self._wait(
            f"{self.manager_url}/api/v1/status",
            verify=ssl.create_default_context(cafile=str(self.ca_file)),
            name="manager",
        )

    def _wait(self, url: str, *, verify: bool | ssl.SSLContext, name: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                httpx.get(url, verify=verify, timeout=2)
                return
            except httpx.TransportError:
                dead = any(p.poll() is not None for p in self._processes)
                if dead or time.monotonic() > deadline:
                    self.stop()
                    logs = (self.folder / f"{name}.log").read_text(errors="replace")[-4000:]
                    pytest.fail(f"LemonLDAP::NG {name} did not start at {url}:\n{logs}")
                time.sleep(0.2)

    def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()

    def log_text(self) -> str:
        return "\n".join(
            (self.folder / f"{n}.log").read_text(errors="replace") for n in ("portal", "manager")
        )


def launch(folder: Path, backend: LdapBackend) -> LemonLdapServer:
    """Configure and start a portal and a manager in ``folder`` against ``backend``."""
    (folder / "conf").mkdir(parents=True)
    (folder / "cache").mkdir()
    tls = make_tls_files(folder)
    server = LemonLdapServer(
        folder=folder,
        portal_port=_free_port(),
        manager_port=_free_port(),
        ca_file=tls.ca_file,
        api_password=secrets.token_urlsafe(24),
    )
    conf = _lmconf(folder, backend, server.portal_url)
    (folder / "conf" / "lmConf-1.json").write_text(json.dumps(conf, indent=1))
    (folder / "lemonldap-ng.ini").write_text(_ini(folder))
    (folder / "manager.psgi").write_text(_MANAGER_PSGI)
    server.start(tls.cert_file, tls.key_file)
    return server


@pytest.fixture(scope="session")
def lemonldap_server(
    tmp_path_factory: pytest.TempPathFactory, slapd_server: SlapdServer
) -> Iterator[LemonLdapServer]:
    server = launch(tmp_path_factory.mktemp("lemonldap"), slapd_backend(slapd_server))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def lemonldap_harness(lemonldap_server: LemonLdapServer, slapd_server: SlapdServer) -> Harness:
    """The contract-suite harness for kind ``lemonldap``: accounts are the test
    slapd's users, and a login is a sign-in through the portal."""
    connector = LemonLdapConnector("sso", lemonldap_server.target())

    def create() -> tuple[str, str]:
        uid, password = f"user-{secrets.token_hex(4)}", strong_password()
        slapd_server.add_user(uid, password)
        return uid, password

    return Harness(
        kind="lemonldap",
        connector=connector,
        create_account=create,
        can_login=lambda uid, password: lemonldap_server.sign_in(uid, password) is not None,
        strong_password=strong_password,
    )
