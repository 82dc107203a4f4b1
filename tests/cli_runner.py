"""Running ``custos`` in-process on a World's deployment: its database, data
folder, outbox and witness file, and its sealing key from the environment or
from its key file (``key_file_world``)."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from conftest import World
from custos.cli.main import app
from custos.clock import ManualClock
from custos.domain.model import Role
from custos.service.ports import Services
from custos.service.recovery.cases import open_helpdesk_case
from custos.service.recovery.operators import add_operator


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


def open_bobs_case(svc: Services) -> str:
    """Bob, a help-desk requester and one help-desk case opened for bob through
    the service layer on ``svc`` (its clock a ManualClock); the engine is
    disposed after, for a CLI process to use the database. Returns the case id."""
    assert isinstance(svc.clock, ManualClock)
    world = World(svc=svc, clock=svc.clock, outbox=svc.settings.effective_outbox)
    world.subject("bob")
    operator, _ = add_operator(svc, name="helpdesk", roles=[Role.REQUESTER], scope=["*"])
    case = open_helpdesk_case(svc, operator, subject_id="bob", reason="caller lost phone")
    svc.engine.dispose()
    return case.id
