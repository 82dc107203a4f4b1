"""The demo tour: a self-service recovery and a help-desk recovery of a privileged
account with dual approval, driven over HTTP against a running demo. The tour
plays every person: the subject (reading the outbox, their authenticator app),
the help-desk agent, two approvers and an executor."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from custos.demo.soft_authenticator import SoftAuthenticator
from custos.notify.outbox import read_outbox

CODE = re.compile(r"\bis (\d{8})\.")
LINK_TOKEN = re.compile(r"#token=(\S+)")
WEBAUTHN_LINK = re.compile(r"#link=(\S+)")
DONE = {"completed", "needs_attention", "denied", "expired", "cancelled", "blocked"}
#: The privileged admins the demo seeds with a software security key (custos.demo.seed).
PRIVILEGED_SUBJECTS = ("root.ops", "dba.admin", "net.admin")
#: Staff the demo seeds without an authenticator app (custos.demo.seed): one
#: emailed code recovers them while their risk is low.
SELF_SERVICE_SUBJECTS = (
    "bob",
    "carol",
    "erin",
    "frank",
    "heidi",
    "ivan",
    "mallory",
    "niaj",
    "peggy",
    "rupert",
    "trent",
    "victor",
    "yolanda",
)
#: The risk engine's window for recent recoveries (custos.risk.signals)
RECENT = timedelta(days=30)


class TourFailed(Exception):
    pass


class Tour:
    def __init__(
        self,
        base_url: str,
        outbox: Path,
        tokens: dict[str, str],
        totp_secrets: dict[str, str],
        say: Callable[[str], None],
        webauthn_keys: dict[str, dict[str, str]] | None = None,
        origin: str | None = None,
    ) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.outbox = outbox
        self.tokens = tokens
        self.totp_secrets = totp_secrets
        self.say = say
        self.webauthn_keys = webauthn_keys or {}
        self.origin = origin or base_url

    # -- helpers ---------------------------------------------------------------------
    def _as(self, operator: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[operator]}"}

    def _call(
        self,
        method: str,
        url: str,
        *,
        operator: str | None = None,
        json: dict[str, Any] | None = None,
        ok: tuple[int, ...] = (200, 201, 202),
    ) -> dict[str, Any]:
        headers = self._as(operator) if operator else {}
        response = self.http.request(method, url, json=json, headers=headers)
        if response.status_code not in ok:
            raise TourFailed(f"{method} {url} -> {response.status_code}: {response.text}")
        body: dict[str, Any] = response.json()
        return body

    def _mail(self, to: str, kind: str, since: str) -> str:
        for _ in range(100):
            for message in reversed(read_outbox(self.outbox)):
                if message["to"] == to and message["kind"] == kind and message["sent_at"] >= since:
                    return str(message["body"])
            time.sleep(0.1)
        raise TourFailed(f"no '{kind}' message reached {to}")

    def _wait(self, case_id: str) -> dict[str, Any]:
        for _ in range(300):
            detail = self._call("GET", f"/api/v1/cases/{case_id}", operator="auditor.barbara")
            if detail["state"] in DONE:
                return detail
            time.sleep(0.1)
        raise TourFailed(f"case {case_id} did not finish")

    def _redeem(self, subject: str, since: str) -> dict[str, Any]:
        body = self._mail(f"{subject}@example.org", "reset_link", since)
        match = LINK_TOKEN.search(body)
        if match is None:
            raise TourFailed("the reset message holds no link")
        self.say(f"  {subject} opens the link and chooses a new password")
        password = "-".join(secrets.token_hex(3) for _ in range(5))
        return self._call(
            "POST",
            "/api/v1/self-service/reset",
            json={"token": match.group(1), "new_password": password},
        )

    @staticmethod
    def _now() -> str:
        return datetime.now(UTC).isoformat()

    def _key_proof(self, case_id: str, subject: str, since: str) -> None:
        """The agent sends a WebAuthn link; the subject's own device answers it
        (the privileged tier needs a phishing-resistant factor)."""
        self._call("POST", f"/api/v1/cases/{case_id}/webauthn-link", operator="helpdesk.hana")
        match = WEBAUTHN_LINK.search(self._mail(f"{subject}@example.org", "webauthn_link", since))
        if match is None or subject not in self.webauthn_keys:
            raise TourFailed(f"no WebAuthn link or no security key for {subject}")
        options = self._call(
            "POST", "/api/v1/self-service/webauthn-links/options", json={"link": match.group(1)}
        )
        key = SoftAuthenticator.from_json(self.webauthn_keys[subject])
        # A key without a signature counter (count 0), like many passkeys: the demo
        # may run the tour again with the same key.
        assertion = key.assert_(options, origin=self.origin, count=0)
        self._call(
            "POST",
            "/api/v1/self-service/webauthn-links/proof",
            json={"link": match.group(1), "credential": assertion},
        )

    def check_tokens(self) -> None:
        """Every operator the tour plays is accepted by the demo (checked before
        the first story, so a stale record fails with a clear reason)."""
        for operator in self.tokens:
            if self.http.get("/api/v1/me", headers=self._as(operator)).status_code != 200:
                raise TourFailed(
                    f"the demo at {self.http.base_url} refuses the token of {operator}: "
                    "is it the demo of another data folder?"
                )

    def fresh_subject(self) -> str:
        """The first of :data:`SELF_SERVICE_SUBJECTS` without a recovery in the
        last 30 days. Each recent recovery raises a subject's risk until the
        policy asks for a second factor, so a tour played again against the same
        demo (or after the hints' walk-through) recovers someone else."""
        since = datetime.now(UTC) - RECENT
        for subject in SELF_SERVICE_SUBJECTS:
            found = self._call(
                "GET", f"/api/v1/cases?subject={subject}&limit=1", operator="auditor.barbara"
            )["cases"]
            if not found or _utc(found[0]["opened_at"]) < since:
                return subject
        raise TourFailed(
            "every subject the tour recovers by email code had a recovery in the last "
            "30 days; a demo on a new data folder starts afresh"
        )

    # -- the two stories ---------------------------------------------------------------
    def self_service(self, subject: str | None = None) -> dict[str, Any]:
        subject = subject or self.fresh_subject()
        self.say(f"[bold]1. Self-service recovery for {subject}[/]")
        since = self._now()
        flow = self._call("POST", "/api/v1/self-service/recoveries", json={"identifier": subject})[
            "flow"
        ]
        self.say("  recovery started; asking for a code to the confirmed email address")
        self._call("POST", f"/api/v1/self-service/recoveries/{flow}/email-code")
        code_match = CODE.search(self._mail(f"{subject}@example.org", "email_code", since))
        if code_match is None:
            raise TourFailed("the code message holds no code")
        result = self._call(
            "POST",
            f"/api/v1/self-service/recoveries/{flow}/proofs",
            json={"method": "email_code", "code": code_match.group(1)},
        )
        self.say(f"  code accepted: {result['status']}")
        redeemed = self._redeem(subject, since)
        return self._wait(redeemed["case"])

    def fresh_admin(self) -> str:
        """The first of :data:`PRIVILEGED_SUBJECTS` never recovered before. The
        privileged tier reissues: every authenticator, the security key included,
        is removed and must be enrolled again, so a tour played again against the
        same demo recovers another admin, whose key is still bound."""
        for subject in PRIVILEGED_SUBJECTS:
            found = self._call(
                "GET", f"/api/v1/cases?subject={subject}&limit=1", operator="auditor.barbara"
            )["cases"]
            if not found:
                return subject
        raise TourFailed(
            "every admin the tour recovers was reissued by an earlier tour and has no "
            "security key left; a demo on a new data folder starts afresh"
        )

    def helpdesk(self, subject: str | None = None) -> dict[str, Any]:
        subject = subject or self.fresh_admin()
        self.say(f"[bold]2. Help-desk recovery of privileged {subject}, two approvers[/]")
        since = self._now()
        case = self._call(
            "POST",
            "/api/v1/cases",
            operator="helpdesk.hana",
            json={"subject": subject, "reason": "caller locked out after travel"},
        )
        case_id = case["id"]
        self.say(f"  helpdesk.hana opened {case_id} (tier {case['tier']})")
        self._key_proof(case_id, subject, since)
        self.say("  the caller confirmed with their own security key: accepted")
        self._call("POST", f"/api/v1/cases/{case_id}/email-code", operator="helpdesk.hana")
        code_match = CODE.search(self._mail(f"{subject}@example.org", "email_code", since))
        if code_match is None:
            raise TourFailed("the code message holds no code")
        state = self._call(
            "POST",
            f"/api/v1/cases/{case_id}/proofs",
            operator="helpdesk.hana",
            json={"method": "email_code", "code": code_match.group(1)},
        )
        self.say(f"  the caller read out the emailed code: {state['state']}")
        refused = self.http.post(
            f"/api/v1/cases/{case_id}/approve",
            headers=self._as("helpdesk.hana"),
            json={"reason": "I know this caller"},
        )
        self.say(f"  helpdesk.hana tries to approve: refused ({refused.json()['error']['id']})")
        for approver in ("approver.ada", "approver.grace"):
            result = self._call(
                "POST",
                f"/api/v1/cases/{case_id}/approve",
                operator=approver,
                json={"reason": "identity proofed with two factors"},
            )
            self.say(f"  {approver} approves: {result['message']}")
        self._call("POST", f"/api/v1/cases/{case_id}/execute", operator="executor.edsger")
        self.say("  executor.edsger executes: the one-time link goes to the subject")
        self._redeem(subject, since)
        return self._wait(case_id)


def _utc(stamp: str) -> datetime:
    when = datetime.fromisoformat(stamp)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
