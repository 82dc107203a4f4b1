"""Every ``custos`` call starts a new interpreter, so what the CLI imports is
what each call waits for. The CLI modules import the application inside the
commands that use it: ``custos --help`` loads none of it, and a command loads
only what it runs. Each check runs in a fresh interpreter and reads
``sys.modules``.

Why these lists: ``import custos.cli.main`` and ``custos --help`` need typer,
rich and the domain's enums (the ``--role`` choices), nothing else. ``custos
case list`` needs the configuration (pydantic), the store (SQLAlchemy), the
policy and the services every store-reading command builds (``bootstrap``),
but never the API, the web server, the charts, the PDF writer or the
migrations, nor what only other commands use: the ceremonies and notices
(WebAuthn, zxcvbn, the mail templates), re-proofing and console single
sign-on (jwt, httpx, authlib), the SMTP relay, the ledger and SET signing
keys, structlog (with rich's tracebacks), or the repositories of other
commands. Each of those once made a
listing several times slower to start (bench/cli.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from cli_runner import open_bobs_case

from custos.bootstrap import bootstrap
from custos.clock import ManualClock
from custos.config import load_settings
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
    "custos.web",
    # What only other commands use (see the module's docstring).
    "webauthn",
    "zxcvbn",
    "jinja2",
    "httpx",
    "httpx2",
    "authlib",
    "joserfc",
    "jwt",
    "smtplib",
    "structlog",
    "pygments",
    "custos.service.ceremonies",
    "custos.service.notices",
    "custos.service.enrolment",
    "custos.notify.messages",
    "custos.notify.email",
    "custos.notify.webhook",
    "custos.idv",
    "custos.sso",
    "custos.signals",
    "custos.ledger.signing",
    "custos.credentials.passwords",
    # Repositories a listing never uses (the unit of work builds them on first use).
    "custos.store.authenticator_repository",
    "custos.store.campaign_repository",
    "custos.store.operator_credential_repository",
    "custos.store.proofing_repository",
    "custos.store.rotation_repository",
    "custos.store.ssf_repository",
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


IMPORTED = re.compile(r"^import time:\s*\d+ \|\s*\d+ \| *(\S+)$", re.MULTILINE)


def test_real_custos_case_list_on_a_seeded_store_loads_only_what_it_uses(
    tmp_path: Path,
) -> None:
    """The installed ``custos`` script, as a user runs it, lists a stored case
    without importing any module of NEVER_FOR_A_LISTING (nor a parent of one).
    The interpreter names every module it imports (PYTHONPROFILEIMPORTTIME);
    only the names are read, never the times."""
    key = MasterKey.generate().to_b64()
    settings = load_settings(None, data_dir=tmp_path, sealing_key=key)
    case_id = open_bobs_case(
        bootstrap(settings, clock=ManualClock(datetime.now(UTC)), migrate=True)
    )

    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOS_")}
    env |= {"CUSTOS_SEALING_KEY": key, "COLUMNS": "200", "PYTHONPROFILEIMPORTTIME": "1"}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "custos"), "--data-dir", str(tmp_path), "case", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert case_id in done.stdout and "bob" in done.stdout  # the listing ran, with its row
    imported = set(IMPORTED.findall(done.stderr))
    assert {"sqlalchemy", "custos.bootstrap", "custos.service.recovery.queries"} <= imported
    unwanted = sorted(
        name
        for name in imported
        if any(name == never or name.startswith(never + ".") for never in NEVER_FOR_A_LISTING)
    )
    assert unwanted == []
