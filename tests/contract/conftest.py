"""Parametrizes the contract suite over every kind of target (see harness.py)."""

from __future__ import annotations

import pytest
from contract_harness import KINDS, Harness, kinds_with


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "harness" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("needs")
    kinds = kinds_with(marker.args[0]) if marker else list(KINDS)
    metafunc.parametrize("harness", kinds, indirect=True)


@pytest.fixture
def harness(request: pytest.FixtureRequest) -> Harness:
    found = request.getfixturevalue(f"{request.param}_harness")
    assert isinstance(found, Harness)
    return found
