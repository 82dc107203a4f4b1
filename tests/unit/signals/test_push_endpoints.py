"""Which push endpoints Custos accepts: https, or http to this machine when the
deployment allows clear text (tests, demos); never credentials in the URL."""

from __future__ import annotations

import pytest

from custos.signals.push import endpoint_problem


@pytest.mark.parametrize(
    "url",
    ["https://rp.example.net/caep", "https://rp.example.net:8443/e?tenant=1"],
)
def test_https_endpoints_are_accepted(url: str) -> None:
    assert endpoint_problem(url, allow_insecure=False) is None


@pytest.mark.parametrize(
    ("url", "allow", "problem"),
    [
        ("http://127.0.0.1:8080/events", False, "clear text"),
        ("http://rp.example.net/events", True, "loopback"),
        ("ftp://rp.example.net/events", False, "https"),
        ("https://user:pw@rp.example.net/events", False, "credentials"),
        ("https://rp.example.net/events#x", False, "fragment"),
        ("https:///events", False, "https"),
        ("not a url", False, "https"),
    ],
)
def test_other_endpoints_are_refused_saying_why(url: str, allow: bool, problem: str) -> None:
    found = endpoint_problem(url, allow_insecure=allow)
    assert found is not None and problem in found


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/e", "http://localhost/e", "http://[::1]/e"])
def test_loopback_http_is_accepted_when_allowed(url: str) -> None:
    assert endpoint_problem(url, allow_insecure=True) is None
