"""Running ``custos`` in-process on a World's deployment: its database, data
folder, outbox and witness file, and its sealing key from the environment or
from its key file (``key_file_world``)."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from conftest import World
from custos.cli.main import app


def run_cli(world: World, *args: str) -> Result:
    s = world.svc.settings
    env: dict[str, str | None] = {
        "CUSTOS_SEALING_KEY": None if s.sealing_key is None else s.sealing_key.get_secret_value(),
        "CUSTOS_SEALING_KEY_FILE": None,
        "CUSTOS_SEALING_KEY_STORE": None,
        "CUSTOS_CONFIG": None,
        "CUSTOS_DATABASE_URL": s.effective_database_url,
        "CUSTOS_OUTBOX_DIR": str(s.effective_outbox),
        "CUSTOS_LEDGER_WITNESS_FILE": None
        if s.ledger_witness_file is None
        else str(s.ledger_witness_file),
    }
    return CliRunner().invoke(app, ["--data-dir", str(s.data_dir), *args], env=env)
