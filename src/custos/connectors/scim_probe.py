"""The SCIM connector's connection test: what an operator runs before trusting a
target. Each step says what it checked and what the service provider answered."""

from __future__ import annotations

from typing import Any

import httpx
from scim2_models import Context, ListResponse, ServiceProviderConfig, User

from custos.connectors.errors import ConnectorError
from custos.connectors.scim_http import ScimHttp, parse
from custos.connectors.spi import TestStep

_CONFIG = "/ServiceProviderConfig"


def run_test(http: ScimHttp) -> list[TestStep]:
    """Steps in order: connect (reachable, TLS verified), authenticate, PATCH
    supported, password change supported, read /Users. Stops after a failed
    connect or authenticate step, since nothing later could pass."""
    try:
        discovery = http.probe("GET", _CONFIG, authenticated=False)
    except ConnectorError as exc:
        return [TestStep("connect", False, f"{exc}: {exc.answer}")]
    if discovery.status_code >= 500 or discovery.status_code == 404:
        return [TestStep("connect", False, f"{_CONFIG} answered HTTP {discovery.status_code}")]
    tls = " over verified TLS" if http.base_url.startswith("https://") else ""
    steps = [TestStep("connect", True, f"{http.base_url} answered{tls}")]

    try:
        users = http.probe("GET", "/Users", params={"count": 1, "attributes": "userName"})
    except ConnectorError as exc:
        return [*steps, TestStep("authenticate", False, f"{exc}: {exc.answer}")]
    if users.status_code == 401:
        return [*steps, TestStep("authenticate", False, "the service provider refused the token")]
    steps.append(TestStep("authenticate", True, "token accepted"))

    config = _config(http, discovery)
    if isinstance(config, TestStep):
        steps.append(config)
    else:
        steps.append(_supported("patch", config.patch is not None and config.patch.supported))
        change = config.change_password
        steps.append(_supported("change_password", change is not None and change.supported))
    steps.append(_list_users(users))
    return steps


def _config(http: ScimHttp, discovery: httpx.Response) -> ServiceProviderConfig | TestStep:
    """The ServiceProviderConfig, fetched with credentials if discovery needs them."""
    try:
        if not discovery.is_success:
            discovery = http.request("GET", _CONFIG)
        return parse(ServiceProviderConfig, discovery, Context.RESOURCE_QUERY_RESPONSE)
    except ConnectorError as exc:
        return TestStep("discovery", False, f"{exc}: {exc.answer}")


def _supported(feature: str, supported: bool | None) -> TestStep:
    said = "announces" if supported else "does not announce"
    return TestStep(feature, bool(supported), f"ServiceProviderConfig {said} {feature} support")


def _list_users(response: httpx.Response) -> TestStep:
    if not response.is_success:
        return TestStep("list_users", False, f"GET /Users answered HTTP {response.status_code}")
    try:
        listed = parse(ListResponse[User[Any]], response, Context.SEARCH_RESPONSE)
    except ConnectorError as exc:
        return TestStep("list_users", False, f"{exc}: {exc.answer}")
    return TestStep("list_users", True, f"GET /Users lists {listed.total_results} users")
