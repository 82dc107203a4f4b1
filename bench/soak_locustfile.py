"""The soak bench's load (Locust): run by bench/soak.py, never on its own.

Each simulated user owns disjoint subjects and mixes, by weight: self-service
recoveries with a valid emailed code, self-service starts with a wrong code
(abandoned, or followed by the right one), starts for unknown accounts,
help-desk cases (agent opens and proves, the agent's own approval is refused
by separation of duties, the approver approves or denies, the agent
executes), redemption of each reset link, evidence exports by an auditor and
subject sign-ins with a wrong password.

Requests alternate between the two API processes; a request that finds its
process gone (the bench SIGKILLs one) is sent once to the other. Every flow
writes ``begin`` / ``redeem`` / ``end`` lines to a journal the bench checks
the database against afterwards; every non-2xx answer is counted by
operation, status and error id (expected refusals included, marked so).
Reads its settings from the JSON file named by ``SOAK_CONFIG``."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import secrets
from collections import Counter
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]
from locust import HttpUser, between, events, task

CONFIG: dict[str, Any] = json.loads(Path(os.environ["SOAK_CONFIG"]).read_text(encoding="utf-8"))
BASES: list[str] = CONFIG["bases"]
CODE = re.compile(r"is (\d+)\.")
TOKEN = re.compile(r"#token=(\S+)")
MAIL_TIMEOUT_S = 90
ERRORS: Counter[tuple[str, int, str, bool]] = Counter()
REDEEMED: list[str] = []
_users = itertools.count()
_flows = itertools.count()
_sources = itertools.count(1)


class Mailbox:
    """The outbox folder indexed by (address, kind), read by one greenlet."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: set[str] = set()
        self.mail: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.running = False

    def start(self) -> None:
        if not self.running:
            self.running = True
            gevent.spawn(self._poll)

    def _poll(self) -> None:
        while self.running:
            try:
                names = sorted(os.listdir(self.folder)) if self.folder.is_dir() else []
            except OSError:
                names = []
            for name in names:
                if name in self.seen or not name.endswith(".json"):
                    continue
                try:
                    record = json.loads((self.folder / name).read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                self.seen.add(name)
                self.mail.setdefault((record["to"], record["kind"]), []).append(record)
            gevent.sleep(0.2)

    def count(self, to: str, kind: str) -> int:
        return len(self.mail.get((to, kind), []))

    def wait(self, to: str, kind: str, after: int) -> dict[str, Any] | None:
        """The first message to ``to`` of ``kind`` beyond the first ``after``; None on timeout."""
        for _ in range(int(MAIL_TIMEOUT_S / 0.2)):
            got = self.mail.get((to, kind), [])
            if len(got) > after:
                return got[after]
            gevent.sleep(0.2)
        return None


MAILBOX = Mailbox(Path(CONFIG["outbox"]))
# Open for the whole run (line-buffered): every flow appends to it.
JOURNAL = Path(CONFIG["journal"]).open("a", encoding="utf-8", buffering=1)  # noqa: SIM115


def journal(**line: Any) -> None:
    JOURNAL.write(json.dumps(line) + "\n")


class FlowEnded(Exception):
    """A flow stops here; its outcome is the message."""


def _write_errors(**_: Any) -> None:
    rows = [
        {"operation": op, "status": status, "error": error, "expected": expected, "count": n}
        for (op, status, error, expected), n in sorted(ERRORS.items())
    ]
    Path(CONFIG["errors"]).write_text(json.dumps(rows), encoding="utf-8")


events.test_stop.add_listener(_write_errors)  # type: ignore[no-untyped-call]


class SoakUser(HttpUser):
    wait_time = between(0.2, 1.0)
    host = BASES[0]

    def on_start(self) -> None:
        MAILBOX.start()
        self.index = next(_users) % CONFIG["users"]
        self.turn = self.index
        self.self_service = (
            f"ss{self.index:03d}x{k:04d}" for k in range(CONFIG["self_service_per_user"])
        )
        self.helpdesk = (f"hd{self.index:03d}x{k:04d}" for k in range(CONFIG["helpdesk_per_user"]))

    # -- requests -------------------------------------------------------------------
    def call(
        self,
        op: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        token: str | None = None,
        ok: tuple[int, ...] = (200,),
        refusals: tuple[str, ...] = (),
    ) -> tuple[int, Any]:
        """POST ``body`` to ``path`` on the next API process (the other one after
        a connection failure); returns the status and the JSON answer (None if
        not JSON). A status outside ``ok`` whose error id is in ``refusals``
        counts as an expected refusal, any other as a failure."""
        headers = {"X-Forwarded-For": self.source}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in range(2):
            self.turn += 1
            base = BASES[self.turn % len(BASES)]
            with self.client.post(
                f"{base}{path}", json=body, headers=headers, name=op, catch_response=True
            ) as answer:
                status = answer.status_code
                try:
                    data = answer.json()
                except ValueError:
                    data = None
                if status in ok:
                    answer.success()
                    return status, data
                error = "connection_failed" if status == 0 else _error_id(data)
                retried = status == 0 and attempt == 0
                expected = error in refusals
                ERRORS[(op, status, error + (" (retried)" if retried else ""), expected)] += 1
                if expected:
                    answer.success()
                    return status, data
                answer.failure(f"{status} {error}")
                if not retried:
                    return status, data
                # A process the bench killed: the request goes once to the other one.
        raise AssertionError("unreachable")

    def step(self, op: str, path: str, body: dict[str, Any] | None, **kwargs: Any) -> Any:
        status, data = self.call(op, path, body, **kwargs)
        if status not in kwargs.get("ok", (200,)):
            raise FlowEnded(f"error:{op}:{status}:{_error_id(data)}")
        return data

    def mail(self, to: str, kind: str, after: int) -> dict[str, Any]:
        found = MAILBOX.wait(to, kind, after)
        if found is None:
            raise FlowEnded(f"no_{kind}_mail")
        return found

    def flow(self, kind: str, subject: str | None, run: Any) -> None:
        flow_id = next(_flows)
        self.source = f"10.{(n := next(_sources)) // 65536 % 256}.{n // 256 % 256}.{n % 256}"
        journal(event="begin", flow=flow_id, kind=kind, subject=subject)
        try:
            outcome, case = run(flow_id, subject), None
            if isinstance(outcome, tuple):
                outcome, case = outcome
        except FlowEnded as ended:
            outcome, case = str(ended), None
        journal(event="end", flow=flow_id, kind=kind, subject=subject, outcome=outcome, case=case)

    def redeem(self, flow_id: int, subject: str, link: dict[str, Any]) -> tuple[str, str]:
        match = TOKEN.search(link["body"])
        if match is None:
            raise FlowEnded("no_token_in_link")
        password = "-".join(secrets.token_hex(3) for _ in range(5))
        journal(event="redeem", flow=flow_id, subject=subject, password=password)
        data = self.step(
            "redeem",
            "/api/v1/self-service/reset",
            {"token": match.group(1), "new_password": password},
        )
        REDEEMED.append(data["case"])
        return "redeemed", data["case"]

    # -- the mix ----------------------------------------------------------------------
    @task(4)
    def self_service_valid(self) -> None:
        self._self_service(wrong_first=False)

    @task(2)
    def self_service_wrong_proof(self) -> None:
        self._self_service(wrong_first=True)

    def _self_service(self, *, wrong_first: bool) -> None:
        subject = next(self.self_service, None)
        if subject is None:
            return
        self.flow("self_service", subject, lambda f, s: self._recover(f, s, wrong_first))

    def _recover(self, flow_id: int, subject: str, wrong_first: bool) -> tuple[str, str | None]:
        to = f"{subject}@soak.example"
        started = self.step(
            "ss_start", "/api/v1/self-service/recoveries", {"identifier": subject}, ok=(202,)
        )
        base = f"/api/v1/self-service/recoveries/{started['flow']}"
        seen = MAILBOX.count(to, "email_code")
        self.step("ss_email_code", f"{base}/email-code", None, ok=(202,))
        message = self.mail(to, "email_code", seen)
        case = message["case_id"]
        code = CODE.search(message["body"])
        if code is None:
            raise FlowEnded("no_code_in_mail")
        if wrong_first:
            wrong = str((int(code.group(1)) + 1) % 10 ** len(code.group(1))).zfill(
                len(code.group(1))
            )
            self.call(
                "ss_proof_wrong",
                f"{base}/proofs",
                {"method": "email_code", "code": wrong},
                ok=(),
                refusals=("proofing_failed",),
            )
            if random.random() < 0.5:
                return "abandoned_after_wrong_proof", case
        links = MAILBOX.count(to, "reset_link")
        proved = self.step(
            "ss_proof", f"{base}/proofs", {"method": "email_code", "code": code.group(1)}
        )
        if proved.get("methods"):
            return "more_proof_required", case
        return self.redeem(flow_id, subject, self.mail(to, "reset_link", links))

    @task(1)
    def self_service_unknown_account(self) -> None:
        def run(flow_id: int, subject: str | None) -> str:
            self.step(
                "ss_start",
                "/api/v1/self-service/recoveries",
                {"identifier": f"nobody-{secrets.token_hex(4)}"},
                ok=(202,),
            )
            return "unknown_account"

        self.flow("unknown", None, run)

    @task(3)
    def helpdesk_case(self) -> None:
        subject = next(self.helpdesk, None)
        if subject is None:
            return
        self.flow("helpdesk", subject, self._assist)

    def _assist(self, flow_id: int, subject: str) -> tuple[str, str | None]:
        agent, approver = CONFIG["tokens"]["agent"], CONFIG["tokens"]["approver"]
        to = f"{subject}@soak.example"
        opened = self.step(
            "hd_open",
            "/api/v1/cases",
            {"subject": subject, "reason": "soak"},
            token=agent,
            ok=(201,),
        )
        case = opened["id"]
        journal(event="case", flow=flow_id, subject=subject, case=case)
        seen = MAILBOX.count(to, "email_code")
        self.step("hd_email_code", f"/api/v1/cases/{case}/email-code", None, token=agent, ok=(202,))
        code = CODE.search(self.mail(to, "email_code", seen)["body"])
        if code is None:
            raise FlowEnded("no_code_in_mail")
        self.step(
            "hd_proof",
            f"/api/v1/cases/{case}/proofs",
            {"method": "email_code", "code": code.group(1)},
            token=agent,
        )
        # Separation of duties under load: the requester's own approval is refused.
        self.call(
            "hd_self_approve",
            f"/api/v1/cases/{case}/approve",
            {"reason": "soak"},
            token=agent,
            ok=(),
            refusals=("sod_violation",),
        )
        if random.random() < 0.1:
            self.step("hd_deny", f"/api/v1/cases/{case}/deny", {"reason": "soak"}, token=approver)
            return "denied", case
        self.step("hd_approve", f"/api/v1/cases/{case}/approve", {"reason": "soak"}, token=approver)
        links = MAILBOX.count(to, "reset_link")
        self.step("hd_execute", f"/api/v1/cases/{case}/execute", None, token=agent)
        return self.redeem(flow_id, subject, self.mail(to, "reset_link", links))

    @task(1)
    def evidence_export(self) -> None:
        if not REDEEMED:
            return
        case = random.choice(REDEEMED[-200:])
        self.source = "10.255.0.1"
        self.call(
            "evidence_export",
            f"/api/v1/cases/{case}/evidence",
            None,
            token=CONFIG["tokens"]["auditor"],
        )

    @task(2)
    def wrong_password_sign_in(self) -> None:
        self.source = f"10.254.{self.index % 256}.1"
        self.call(
            "sign_in_wrong",
            "/api/v1/me/sign-in",
            {"identifier": random.choice(CONFIG["sign_in"]), "password": secrets.token_hex(8)},
            ok=(),
            refusals=("unauthenticated", "throttled"),
        )


def _error_id(data: Any) -> str:
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return str(data["error"].get("id", "no_id"))
    return "no_error_body"
