"""Problems of a policy file outside any tier, as ``custos policy check``
prints them (``source:line: reason``): a top-level key missing or unknown (no
path before the reason), a YAML error without a position (line 1), a document
that is not a mapping (the line it starts on)."""

from __future__ import annotations

import pytest

from custos.policy.loader import PolicyError, parse_policy

BODY = "risk_bands: {a: [0, 100]}\ntiers:\n  - {name: f, action: block}\n"


def _printed(text: str) -> list[str]:
    with pytest.raises(PolicyError) as refused:
        parse_policy(text, "site.yaml")
    assert all(p.source == "site.yaml" for p in refused.value.problems)
    return str(refused.value).splitlines()


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        (BODY, ["site.yaml:1: missing required key 'version'"]),
        ("version: 1\nextra: 2\n" + BODY, ["site.yaml:2: unknown key 'extra'"]),
        ("# a policy\n\n- a\n- b\n",
         ["site.yaml:3: a policy file is a YAML mapping; this one is a list"]),
        ("version: 1\n" + BODY + "# \x07\n", [
            "site.yaml:1: YAML error: unacceptable character #x0007: special characters are "
            "not allowed",
            '  in "<unicode string>", position 75',
        ]),
    ],
)  # fmt: skip
def test_problems_outside_any_tier(text: str, printed: list[str]) -> None:
    assert _printed(text) == printed
