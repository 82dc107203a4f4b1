"""The import rules of the layout (docs/architecture.md, STYLE 1): only the faces
import the bootstrap, the domain imports no I/O, and no two modules import each
other. Read from the source with ``ast``: every import counts, including those
under ``TYPE_CHECKING`` and inside functions."""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
FACES = ("custos.api", "custos.cli")
#: What the domain may import besides itself: the standard library, no I/O.
DOMAIN_ALLOWED_STDLIB = {
    "__future__",
    "collections",
    "dataclasses",
    "datetime",
    "enum",
    "re",
    "typing",
}


@cache
def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in SRC.rglob("*.py"):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


@cache
def imports_of(name: str) -> frozenset[str]:
    """Every module named by an import statement of ``name`` (top-level names
    for outside packages, full dotted names for custos modules)."""
    known = modules()
    found: set[str] = set()
    for node in ast.walk(ast.parse(known[name].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if f"{node.module}.{alias.name}" in known
            )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return frozenset(found)


def _custos_imports(name: str) -> set[str]:
    return {m for m in imports_of(name) if m in modules() and m != name}


def test_bootstrap_imported_only_by_faces() -> None:
    importers = sorted(
        name
        for name in modules()
        if "custos.bootstrap" in imports_of(name) and not name.startswith(FACES)
    )
    assert importers == []


def test_domain_imports_only_domain_and_pure_stdlib() -> None:
    offending = {}
    for name in modules():
        if not name.startswith("custos.domain"):
            continue
        outside = {
            m
            for m in imports_of(name)
            if not m.startswith("custos.domain") and m.split(".")[0] not in DOMAIN_ALLOWED_STDLIB
        }
        if outside:
            offending[name] = sorted(outside)
    assert offending == {}
    assert set(sys.stdlib_module_names) | {"__future__"} >= DOMAIN_ALLOWED_STDLIB


def test_no_two_modules_import_each_other() -> None:
    circles = sorted(
        (a, b) for a in modules() for b in _custos_imports(a) if a < b and a in _custos_imports(b)
    )
    assert circles == []


def test_service_flat_modules_are_gone() -> None:
    """The service layer is split by capability: only packages and the port."""
    service = SRC / "custos" / "service"
    kept = {"__init__.py", "ports.py"}
    loose = sorted(p.name for p in service.glob("*.py") if p.name not in kept)
    assert loose == []
    for package in sorted(p for p in service.iterdir() if p.is_dir() and p.name != "__pycache__"):
        init = package / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{package.name} has no docstring"
