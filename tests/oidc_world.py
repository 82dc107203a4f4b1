"""A real OpenID provider on loopback for the single sign-on tests: panva's
``oidc-provider`` from npm (tests/node, installed by ``scripts/test``) run by
``node tests/servers/oidc_provider.js``, with one confidential client (PKCE
required) whose redirect URI is the Custos live server's callback, and people
whose claims the test sets (``sub``, ``preferred_username``, ``email``,
``groups``). The accounts file is read on every lookup, so a test can change a
person's groups between two sign-ins.

A missing node or a missing tests/node/node_modules fails the test: it never
skips. The provider's issuer is ``http://localhost:PORT`` while the live server
is ``http://127.0.0.1:PORT``: two sites, as in production, so the browser's
SameSite rules apply to the round trip.

``SsoSite`` serves Custos (live_server) configured for that provider;
``sign_in_at_provider`` walks a browser-less client through the provider's
sign-in page and stops at the answer it sends back to Custos.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import free_port, serve

from conftest import World, make_world

ROOT = Path(__file__).resolve().parents[1]
START_SCRIPT = ROOT / "tests" / "servers" / "oidc_provider.js"
NODE_MODULES = ROOT / "tests" / "node" / "node_modules"
CLIENT_ID = "custos-console"
CALLBACK = "/console/sso/callback"
FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')

#: The role mapping the SSO worlds use (docs/console.md#single-sign-on).
ROLE_MAPPING: list[dict[str, Any]] = [
    {"group": "custos-helpdesk", "roles": ["requester"], "scope": ["staff"]},
    {"group": "custos-approvers", "roles": ["approver"], "scope": ["staff", "finance"]},
    {"group": "custos-admins", "roles": ["admin"], "scope": ["*"]},
]


@dataclass
class Person:
    sub: str
    username: str
    groups: list[str]

    def claims(self) -> dict[str, Any]:
        return {
            "preferred_username": self.username,
            "email": f"{self.username}@example.org",
            "groups": self.groups,
        }


@dataclass
class OidcProvider:
    """The running provider: its issuer, client credentials and people."""

    issuer: str
    client_secret: str
    accounts_file: Path
    people: dict[str, Person] = field(default_factory=dict)

    def person(self, sub: str, username: str, *groups: str) -> Person:
        """Add or replace the person ``sub`` (their next sign-in sees it)."""
        self.people[sub] = Person(sub, username, list(groups))
        self.accounts_file.write_text(
            json.dumps({p.sub: p.claims() for p in self.people.values()}), encoding="utf-8"
        )
        return self.people[sub]

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """``console.oidc`` settings for a Custos that signs in through this provider."""
        return {
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": {"value": self.client_secret},
            "scopes": ["openid", "profile", "email", "groups"],
            "role_mapping": ROLE_MAPPING,
            "allow_insecure_transport": True,
            "label": "Example SSO",
            **overrides,
        }


def _fail_without_node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: the SSO tests run oidc-provider (apt-get install nodejs)")
    if not (NODE_MODULES / "oidc-provider").is_dir():
        pytest.fail(f"{NODE_MODULES} has no oidc-provider: run npm ci --prefix tests/node")
    return node


@contextmanager
def oidc_provider(redirect_uri: str, workdir: Path) -> Iterator[OidcProvider]:
    """oidc-provider on a free loopback port, with Custos's client registered for
    ``redirect_uri``, until the block ends. Fails the test when it does not answer."""
    node = _fail_without_node()
    port = free_port()
    provider = OidcProvider(
        issuer=f"http://localhost:{port}",
        client_secret=secrets.token_urlsafe(32),
        accounts_file=workdir / "oidc-accounts.json",
    )
    provider.accounts_file.write_text("{}", encoding="utf-8")
    config = workdir / "oidc-provider.json"
    config.write_text(
        json.dumps(
            {
                "issuer": provider.issuer,
                "port": port,
                "client": {
                    "client_id": CLIENT_ID,
                    "client_secret": provider.client_secret,
                    "redirect_uris": [redirect_uri],
                },
                "accounts_file": str(provider.accounts_file),
            }
        ),
        encoding="utf-8",
    )
    log = (workdir / "oidc-provider.log").open("wb")
    process = subprocess.Popen([node, str(START_SCRIPT), str(config)], stdout=log, stderr=log)
    try:
        _wait_for_discovery(provider.issuer, process, workdir / "oidc-provider.log")
        yield provider
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait_for_discovery(issuer: str, process: subprocess.Popen[bytes], log: Path) -> None:
    url = f"{issuer}/.well-known/openid-configuration"
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            pytest.fail(f"oidc-provider exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"oidc-provider did not answer {url}: {log.read_text()[-2000:]}")
        time.sleep(0.1)


@dataclass
class SsoSite:
    """Custos served on loopback, signing operators in through ``provider``."""

    world: World
    origin: str
    provider: OidcProvider

    def browser(self) -> httpx.Client:
        """A cookie-keeping client that follows no redirect by itself (as a browser
        would, one step at a time, so a test can stop or tamper on the way)."""
        return httpx.Client(timeout=15, follow_redirects=False)


@pytest.fixture
def sso_site(tmp_path: Path) -> Iterator[SsoSite]:
    """Custos (SQLite, its clock at the real time: the provider's tokens carry
    real times) with ``[console.oidc]`` pointing at a real oidc-provider."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    with oidc_provider(origin + CALLBACK, tmp_path) as provider:
        world = make_world(
            f"sqlite:///{tmp_path / 'custos.db'}",
            tmp_path,
            start=datetime.now(UTC),
            public_origin=origin,
            console={"oidc": provider.settings()},
        )
        try:
            with serve(world, port):
                yield SsoSite(world=world, origin=origin, provider=provider)
        finally:
            world.svc.engine.dispose()


def sign_in_at_provider(client: httpx.Client, site: SsoSite, sub: str) -> str:
    """From Custos's start page through the provider's sign-in form as ``sub``;
    return the URL the provider sends the browser back to (not followed)."""
    url = f"{site.origin}/console/sso/start?next=/"
    answer = client.get(url)
    assert answer.status_code == 303, answer.text
    answer = _until_page_or_custos(client, answer.headers["location"], site)
    action = FORM_ACTION.search(answer.text)
    assert action, f"no sign-in form at the provider: {answer.text[:500]}"
    posted = client.post(
        str(answer.url.join(action.group(1))),
        data={"prompt": "login", "login": sub, "password": "any password"},
    )
    assert posted.status_code in (302, 303), posted.text
    done = _until_page_or_custos(client, posted.headers["location"], site)
    assert str(done.url).startswith(site.origin + CALLBACK), done.text[:500]
    return str(done.url)


def _until_page_or_custos(client: httpx.Client, url: str, site: SsoSite) -> httpx.Response:
    """Follow the provider's redirects until a page, or until the next hop is
    Custos's callback (returned as a request not sent: a fake 0 response)."""
    for _ in range(10):
        if url.startswith(site.origin + CALLBACK):
            return httpx.Response(0, request=httpx.Request("GET", url))
        answer = client.get(url)
        if answer.status_code not in (302, 303):
            assert answer.status_code == 200, answer.text[:500]
            return answer
        url = str(answer.url.join(answer.headers["location"]))
    raise AssertionError("too many redirects at the provider")
