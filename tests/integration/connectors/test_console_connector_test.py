"""The console's Test button (docs/console.md#administration) against a real
OpenLDAP server (slapd): every step of the connection test passes and shows,
with its timing; a target on a closed port fails at "connect" with a message
naming the address; no page or fragment shows the bind password."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from console_helpers import console_client, csrf_of, sign_in
from fastapi.testclient import TestClient
from servers.slapd import SlapdServer

from conftest import World, make_world
from custos.domain.model import Role


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port held bound but never listening: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
def ldap_world(tmp_path: Path, slapd_server: SlapdServer, closed_port: int) -> Iterator[World]:
    world = make_world(
        f"sqlite:///{tmp_path / 'custos.db'}",
        tmp_path,
        targets={
            "directory": {"kind": "builtin"},
            "openldap": slapd_server.target(),
            "gone": slapd_server.target(url=f"ldap://127.0.0.1:{closed_port}"),
        },
    )
    world.operator("margaret", Role.ADMIN)
    yield world
    world.svc.engine.dispose()


@pytest.fixture
def admin(ldap_world: World) -> Iterator[TestClient]:
    with console_client(ldap_world) as client:
        sign_in(client, ldap_world, "margaret")
        yield client


def _text(html: str) -> str:
    inline = re.sub(r"</?(code|a|span)\b[^>]*>", "", html)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", inline)).split())


def _test(client: TestClient, target: str) -> str:
    csrf = csrf_of(client.get("/console/admin/connectors").text)
    answer = client.post(
        f"/console/admin/connectors/{target}/test",
        headers={"HX-Request": "true", "X-CSRF-Token": csrf},
    )
    assert answer.status_code == 200, answer.text
    return answer.text


def test_the_page_shows_where_the_directory_is_without_its_password(
    admin: TestClient, slapd_server: SlapdServer
) -> None:
    html = admin.get("/console/admin/connectors").text
    text = _text(html)
    assert f"openldap ldap URL {slapd_server.ldap_url}" in text
    assert "Encryption StartTLS" in text
    assert f"Bind DN {slapd_server.service_dn}" in text
    assert "Bind password not shown; written in the configuration" in text
    assert "set_password: set a password" in text
    assert "force_change: require a new password at next logon" in text
    assert "authenticate: check a subject's own password (sign-in)" in text
    assert "Test openldap" in text
    assert slapd_server.service_password not in html


def test_the_test_button_passes_every_step_against_slapd(
    admin: TestClient, slapd_server: SlapdServer
) -> None:
    html = _test(admin, "openldap")
    text = _text(html)
    assert re.search(r"openldap: every check passed \(5 steps in \d+ ms", text), text
    for step in ("connect", "tls", "bind", "search_base", "write_permission"):
        assert re.search(rf"<td>{step}</td><td><span class=\"badge ok\">ok</span>", html), step
    assert f"bound as {slapd_server.service_dn}" in text
    assert "StartTLS" in text
    assert slapd_server.service_password not in html


def test_the_test_button_on_a_closed_port_fails_at_connect_clearly(
    admin: TestClient, closed_port: int
) -> None:
    html = _test(admin, "gone")
    text = _text(html)
    assert re.search(
        rf"gone: failed at step “connect”: cannot reach 127\.0\.0\.1:{closed_port}: "
        rf"Connection refused \(after \d+ ms",
        text,
    ), text
    assert '<span class="badge bad">failed</span>' in html
    assert "<td>bind</td>" not in html  # nothing after a failed connect
