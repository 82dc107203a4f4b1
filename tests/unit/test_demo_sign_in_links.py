"""A demo sign-in link is a complete console sign-in without password or second
factor, so only ``custos demo`` may issue one (docs/console.md#the-demo): no
module but the demo command imports ``service/console/demo_sign_in``, and only
that module and the link's redemption name the demo purpose. Read from the
source with ``ast`` (every import and attribute counts)."""

from __future__ import annotations

import ast

from test_layers import imports_of, modules

DEMO_LINKS = "custos.service.console.demo_sign_in"
#: Where ``LinkPurpose.DEMO`` may appear: where it is issued and where it is redeemed.
NAMING_DEMO_PURPOSE = {DEMO_LINKS, "custos.service.console.operator_links"}


def test_only_the_demo_command_imports_the_demo_links() -> None:
    importers = sorted(name for name in modules() if DEMO_LINKS in imports_of(name))
    assert importers == ["custos.cli.demo"]


def test_only_issuing_and_redeeming_name_the_demo_purpose() -> None:
    naming = set()
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "DEMO"
                and isinstance(node.value, ast.Name)
                and node.value.id == "LinkPurpose"
            ):
                naming.add(name)
    assert naming == NAMING_DEMO_PURPOSE
