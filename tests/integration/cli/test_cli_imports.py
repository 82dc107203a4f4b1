"""Every ``custos`` call starts a new interpreter, so what the CLI imports is
what each call waits for. The CLI modules import the application inside the
commands that use it: ``custos --help`` loads none of it, and a command loads
only what it runs. Each check runs in a fresh interpreter and reads
``sys.modules``.

Why these lists: ``import custos.cli.main`` and ``custos --help`` need typer,
rich and the domain's enums (the ``--role`` choices), nothing else. ``custos
case list`` needs the configuration (pydantic), the store (SQLAlchemy) and
the service layer (which still imports much of the application through
``custos.service.recovery.queries``), but never the API, the web server, the charts,
the PDF writer or the migrations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from custos.credentials.keys import MasterKey

APPLICATION = [
    "matplotlib",
    "numpy",
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "pydantic",
    "pydantic_settings",
    "httpx",
    "cryptography",
    "jinja2",
    "structlog",
    "webauthn",
    "reportlab",
    "yaml",
    "custos.bootstrap",
    "custos.config",
    "custos.service",
    "custos.store",
    "custos.api",
]
NEVER_FOR_A_LISTING = [
    "matplotlib",
    "numpy",
    "fastapi",
    "starlette",
    "uvicorn",
    "reportlab",
    "alembic",
    "custos.api",
    "custos.reports",
]

PROBE = """
import json, sys
argv = sys.argv[1:]
if argv:
    from custos.cli.main import app
    try:
        app(argv, prog_name="custos")
    except SystemExit:
        pass
else:
    import custos.cli.main
wanted = json.loads(sys.stdin.readline())
print(json.dumps(sorted(m for m in wanted if m in sys.modules)))
"""


def loaded(modules: list[str], *args: str, env: dict[str, str] | None = None) -> list[str]:
    """Which of ``modules`` a fresh interpreter holds after ``custos ARGS`` (or
    after importing the CLI, without ARGS)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        input=json.dumps(modules) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_import_cli_main_loads_no_application_module() -> None:
    assert loaded(APPLICATION) == []


def test_help_loads_no_application_module() -> None:
    assert loaded(APPLICATION, "--help") == []
    # Typer itself converts a command's parameters with pydantic once that
    # command parses its options, even for --help: not ours to avoid.
    assert loaded(APPLICATION, "evidence", "verify", "--help") == ["pydantic"]


def test_case_list_loads_no_api_chart_or_migration_module(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env["CUSTOS_SEALING_KEY"] = MasterKey.generate().to_b64()
    probe_env = {**env, "COLUMNS": "100"}
    upgrade = subprocess.run(
        [sys.executable, "-m", "custos.cli.main", "--data-dir", str(tmp_path), "db", "upgrade"],
        env=probe_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    found = loaded(
        [*NEVER_FOR_A_LISTING, "sqlalchemy"],
        "--data-dir",
        str(tmp_path),
        "case",
        "list",
        env=probe_env,
    )
    # The listing ran (it needs the store) and loaded nothing it does not use.
    assert found == ["sqlalchemy"]
