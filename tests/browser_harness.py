"""Debian's Chromium driven by Playwright (the app itself runs through
``live_server``), with a virtual WebAuthn authenticator (Chrome DevTools Protocol).
Playwright's own browser download is not used: a missing /usr/bin/chromium fails
the test (``scripts/test`` installs Debian's ``chromium``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def add_virtual_authenticator(page: Page) -> dict[str, Any]:
    """A CTAP2 security key with user verification that always verifies, attached
    to ``page``'s tab; returns the CDP answer (its ``authenticatorId``)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable", {"enableUI": False})
    return cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


#: The subject's browser signing in and registering a key through the /me API;
#: base64url helpers come from the page (unb64, b64).
REGISTER_JS = """
async ({identifier, password, label}) => {
  const post = async (path, body, token) => {
    const headers = {'Content-Type': 'application/json'};
    if (token) headers.Authorization = 'Bearer ' + token;
    // An operation that takes no body refuses one (422): send none for those.
    const r = await fetch(path, {method: 'POST', headers,
      body: body === undefined ? undefined : JSON.stringify(body)});
    return [r.status, await r.json()];
  };
  const [signed, session] = await post('/api/v1/me/sign-in', {identifier, password});
  if (signed !== 200) return {step: 'sign-in', status: signed, body: session};
  const [got, o] = await post('/api/v1/me/methods/webauthn/options', undefined,
    session.session);
  if (got !== 200) return {step: 'options', status: got, body: o};
  const c = await navigator.credentials.create({publicKey: {...o,
    challenge: unb64(o.challenge), user: {...o.user, id: unb64(o.user.id)},
    excludeCredentials: (o.excludeCredentials || []).map((x) => ({...x, id: unb64(x.id)}))}});
  const credential = {id: c.id, rawId: b64(c.rawId), type: c.type,
    response: {clientDataJSON: b64(c.response.clientDataJSON),
      attestationObject: b64(c.response.attestationObject),
      transports: c.response.getTransports()},
    clientExtensionResults: c.getClientExtensionResults()};
  const [bound, body] = await post('/api/v1/me/methods/webauthn', {credential, label},
    session.session);
  return {step: 'bind', status: bound, body};
}
"""
