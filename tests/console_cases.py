"""Driving help-desk cases through the console pages in tests (TestClient): open a
case from the subject's page, post an action from the case page with the
page's CSRF token, and remember every page seen so that a test can check that
no secret was ever on screen."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx2
from console_helpers import csrf_of
from fastapi.testclient import TestClient


@dataclass
class Desk:
    """One operator's browser-less console: a client and every HTML page it got."""

    client: TestClient
    pages: list[str] = field(default_factory=list)

    def get(self, path: str) -> httpx2.Response:
        answer: httpx2.Response = self.client.get(path)
        self.pages.append(answer.text)
        return answer

    def open_case(self, subject_id: str, *, reason: str = "caller locked out") -> str:
        """Open a case from the subject's page; returns its id."""
        csrf = csrf_of(self.get(f"/console/subjects/{subject_id}").text)
        answer: httpx2.Response = self.client.post(
            f"/console/subjects/{subject_id}/cases",
            data={"csrf": csrf, "reason": reason, "ticket": "INC-1"},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
        location = str(answer.headers["location"])
        return location.split("/console/cases/")[1].split("?")[0]

    def act(self, case_id: str, action: str, **form: str) -> httpx2.Response:
        """Post ``action`` from the case page (with its CSRF token); follows the
        redirect, so the answer is the case page after the action."""
        csrf = csrf_of(self.get(f"/console/cases/{case_id}").text)
        answer: httpx2.Response = self.client.post(
            f"/console/cases/{case_id}/{action}", data={"csrf": csrf, **form}
        )
        self.pages.append(answer.text)
        return answer
