"""A throwaway OpenLDAP server (slapd) on loopback for the contract suite and the
LDAP integration tests.

``slapd_server`` (session) generates a CA and a server certificate for
127.0.0.1/localhost, writes a cn=config LDIF (back_mdb, ppolicy overlay with a
default policy, core/cosine/nis/inetorgperson schema, ACLs), loads it with
``slapadd -n0`` into a fresh ``slapd.d``, starts ``slapd -d 0`` in the foreground
on ``ldap://127.0.0.1:<free>/`` and ``ldaps://127.0.0.1:<free>/`` and seeds the
tree as the root DN (about 0.1 s in all); ``launch(..., member_of=True)`` adds the
memberOf overlay. The default policy: pwdMinLength 8,
pwdInHistory 3, pwdCheckQuality 1, pwdMustChange, pwdLockout after 5 failures
(locked until unlocked). ``cn=custos,ou=services`` may write userPassword, pwdReset
and pwdAccountLockedTime under ou=people; ``cn=readonly,ou=services`` may only
read. A missing slapd (or module, or schema) fails the fixture: it never skips.

``ldap_harness`` (session) is the contract-suite harness for kind ``ldap``."""

from __future__ import annotations

import io
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ldap
import ldap.modlist
import ldif
import pytest
from contract_harness import Harness
from pydantic import SecretStr

from custos.config import LdapTarget, SecretSource
from custos.connectors.ldap import LdapConnector
from servers import running_pid
from servers.tls import TlsFiles, make_tls_files

SUFFIX = "dc=custos,dc=test"
PEOPLE = f"ou=people,{SUFFIX}"
SERVICES = f"ou=services,{SUFFIX}"
POLICY_DN = f"cn=default,ou=policies,{SUFFIX}"
ADMIN_DN = f"cn=admin,{SUFFIX}"
SERVICE_DN = f"cn=custos,{SERVICES}"
READONLY_DN = f"cn=readonly,{SERVICES}"
MODULE_PATH = Path("/usr/lib/ldap")
SCHEMA_DIR = Path("/etc/ldap/schema")
START_TIMEOUT_S = 20.0


def person_entry(uid: str, password: str) -> list[tuple[str, list[bytes]]]:
    """The add list of an inetOrgPerson ``uid`` with ``password``."""
    attrs = {
        "objectClass": [b"inetOrgPerson"],
        "uid": [uid.encode()],
        "cn": [uid.encode()],
        "sn": [uid.encode()],
        "userPassword": [password.encode()],
    }
    return list(ldap.modlist.addModlist(attrs))


def strong_password() -> str:
    """Long enough for pwdMinLength 8, random enough never to repeat history."""
    return "Aa1-" + secrets.token_urlsafe(18)


def _binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}"):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.fail(f"{name} not found: install the Debian packages slapd and ldap-utils")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config_ldif(folder: Path, tls: TlsFiles, admin_password: str, member_of: bool) -> str:
    schemas = "".join(
        f"include: file://{SCHEMA_DIR / name}.ldif\n"
        for name in ("core", "cosine", "nis", "inetorgperson")
    )
    member_of_module = "olcModuleLoad: memberof\n" if member_of else ""
    # The service account may write exactly what the connector writes; the read-only
    # account exists to prove PermissionDenied on writes.
    return f"""\
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {folder / "slapd.pid"}
olcTLSCACertificateFile: {tls.ca_file}
olcTLSCertificateFile: {tls.cert_file}
olcTLSCertificateKeyFile: {tls.key_file}

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: {MODULE_PATH}
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy
{member_of_module}
dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}
dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {SUFFIX}
olcRootDN: {ADMIN_DN}
olcRootPW: {admin_password}
olcDbDirectory: {folder / "data"}
olcDbMaxSize: 67108864
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcAccess: {{0}}to dn.subtree="{PEOPLE}" attrs=userPassword
  by dn.exact="{SERVICE_DN}" write by self write by anonymous auth by * none
olcAccess: {{1}}to dn.subtree="{PEOPLE}" attrs=pwdReset,pwdAccountLockedTime
  by dn.exact="{SERVICE_DN}" write by dn.exact="{READONLY_DN}" read by self read by * none
olcAccess: {{2}}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {{3}}to * by dn.exact="{SERVICE_DN}" read by dn.exact="{READONLY_DN}" read
  by self read by anonymous auth by * none

dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
olcPPolicyDefault: {POLICY_DN}
olcPPolicyHashCleartext: TRUE
{_MEMBER_OF if member_of else ""}"""


_MEMBER_OF = """
dn: olcOverlay={1}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {1}memberof
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
olcMemberOfRefInt: TRUE
"""


def _seed(conn: ldap.ldapobject.LDAPObject, service_password: str, readonly_password: str) -> None:
    """The tree, the default password policy and the two service accounts, added
    online as the root DN so ppolicy hashes the passwords."""
    tree = f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: custos
o: Custos test

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: {SERVICES}
objectClass: organizationalUnit
ou: services

dn: ou=policies,{SUFFIX}
objectClass: organizationalUnit
ou: policies

dn: {POLICY_DN}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMinLength: 8
pwdInHistory: 3
pwdCheckQuality: 1
pwdMustChange: TRUE
pwdAllowUserChange: TRUE
pwdLockout: TRUE
pwdMaxFailure: 5

dn: {SERVICE_DN}
objectClass: person
cn: custos
sn: custos
userPassword: {service_password}

dn: {READONLY_DN}
objectClass: person
cn: readonly
sn: readonly
userPassword: {readonly_password}
"""
    records = ldif.LDIFRecordList(io.StringIO(tree))
    records.parse()
    for dn, attrs in records.all_records:
        conn.add_s(dn, ldap.modlist.addModlist(attrs))


@dataclass
class SlapdServer:
    """A running slapd; ``stop()``/``start()`` keep the same config and ports."""

    folder: Path
    ldap_port: int
    ldaps_port: int
    ca_file: Path
    admin_password: str
    service_password: str
    readonly_password: str
    suffix: str = SUFFIX
    people_base: str = PEOPLE
    admin_dn: str = ADMIN_DN
    service_dn: str = SERVICE_DN
    readonly_dn: str = READONLY_DN
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def ldap_url(self) -> str:
        return f"ldap://127.0.0.1:{self.ldap_port}/"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}/"

    @property
    def pid(self) -> int:
        return running_pid(self._process)

    @property
    def log_file(self) -> Path:
        return self.folder / "slapd.log"

    def start(self) -> None:
        """Start slapd and wait until the admin can bind (fails after 20 s with its log)."""
        if self._process is not None and self._process.poll() is None:
            return
        with self.log_file.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    _binary("slapd"),
                    "-d",
                    "0",
                    "-F",
                    str(self.folder / "slapd.d"),
                    "-h",
                    f"{self.ldap_url} {self.ldaps_url}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                self.admin().unbind_s()
                return
            except ldap.LDAPError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    log_text = self.log_file.read_text(errors="replace")[-4000:]
                    pytest.fail(f"slapd did not start on {self.ldap_url}:\n{log_text}")
                time.sleep(0.05)

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def admin(self) -> ldap.ldapobject.LDAPObject:
        """A plain-LDAP connection bound as the root DN."""
        conn = ldap.initialize(self.ldap_url)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 2)
        conn.simple_bind_s(self.admin_dn, self.admin_password)
        return conn

    def add_user(self, uid: str, password: str) -> str:
        """Add an inetOrgPerson ``uid`` under ou=people; returns its DN."""
        dn = f"uid={uid},{self.people_base}"
        conn = self.admin()
        try:
            conn.add_s(dn, person_entry(uid, password))
        finally:
            conn.unbind_s()
        return dn

    def read(self, dn: str, *attributes: str) -> dict[str, list[bytes]]:
        """The entry's ``attributes`` (operational ones included) as the root DN sees them."""
        conn = self.admin()
        try:
            found = conn.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", list(attributes))
        finally:
            conn.unbind_s()
        return dict(found[0][1])

    def can_bind(self, dn: str, password: str) -> bool:
        """A real simple bind as ``dn`` (False on invalid credentials)."""
        conn = ldap.initialize(self.ldap_url)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 5)
        try:
            conn.simple_bind_s(dn, password)
            return True
        except ldap.INVALID_CREDENTIALS:
            return False
        finally:
            conn.unbind_s()

    def target(self, **overrides: object) -> LdapTarget:
        """Connector configuration for the service account (StartTLS with the CA)."""
        values: dict[str, object] = {
            "kind": "ldap",
            "url": self.ldap_url,
            "start_tls": True,
            "ca_file": self.ca_file,
            "bind_dn": self.service_dn,
            "bind_password": SecretSource(value=SecretStr(self.service_password)),
            "user_base": self.people_base,
            "timeout_s": 5,
        }
        values.update(overrides)
        return LdapTarget.model_validate(values)


def launch(folder: Path, *, member_of: bool = False) -> SlapdServer:
    """Configure and start a throwaway slapd in ``folder`` (also used by bench/);
    ``member_of``: with the memberOf overlay (groupOfNames ``member`` kept in the
    members' ``memberOf``). Fails (pytest.fail) with slapd's own words when it cannot."""
    (folder / "data").mkdir(parents=True)
    (folder / "slapd.d").mkdir()
    tls = make_tls_files(folder)
    server = SlapdServer(
        folder=folder,
        ldap_port=_free_port(),
        ldaps_port=_free_port(),
        ca_file=tls.ca_file,
        admin_password=secrets.token_urlsafe(16),
        service_password=strong_password(),
        readonly_password=strong_password(),
    )
    ldif = folder / "config.ldif"
    ldif.write_text(_config_ldif(folder, tls, server.admin_password, member_of))
    loaded = subprocess.run(
        [_binary("slapadd"), "-n0", "-F", str(folder / "slapd.d"), "-l", str(ldif)],
        capture_output=True,
        text=True,
        check=False,
    )
    if loaded.returncode != 0:
        pytest.fail(f"slapadd -n0 failed:\n{loaded.stderr}")
    server.start()
    try:
        conn = server.admin()
        _seed(conn, server.service_password, server.readonly_password)
        conn.unbind_s()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def slapd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdServer]:
    server = launch(tmp_path_factory.mktemp("slapd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ldap_harness(slapd_server: SlapdServer) -> Harness:
    connector = LdapConnector("openldap", slapd_server.target())

    def create() -> tuple[str, str]:
        uid, password = f"user-{secrets.token_hex(4)}", strong_password()
        slapd_server.add_user(uid, password)
        return uid, password

    return Harness(
        kind="ldap",
        connector=connector,
        create_account=create,
        can_login=lambda uid, password: slapd_server.can_bind(
            f"uid={uid},{slapd_server.people_base}", password
        ),
        strong_password=strong_password,
    )
