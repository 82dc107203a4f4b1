"""The ``custos`` command: ``custos --help`` lists everything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from custos.cli import audit as audit_cli
from custos.cli import backup as backup_cli
from custos.cli import demo as demo_cli
from custos.cli import directories, policy_simulate
from custos.cli import doctor as doctor_cli
from custos.cli import exceptions as exceptions_cli
from custos.cli import export as export_cli
from custos.cli import holds as holds_cli
from custos.cli import incident as incident_cli
from custos.cli import keys as keys_cli
from custos.cli import oversight as oversight_cli
from custos.cli import owners as owners_cli
from custos.cli import report as report_cli
from custos.cli import ssf as ssf_cli
from custos.cli.campaigns import campaign_app
from custos.cli.context import (
    CliState,
    command_group,
    console,
    err_console,
    escape,
    failures,
    state,
)
from custos.cli.operators import operator_app

if TYPE_CHECKING:
    from custos.domain.states import CaseState

# Module level imports stay light (typer, rich, the domain's enums): every
# command imports the application parts it needs in its own body, so that
# ``custos --help`` and quick commands do not load SQLAlchemy, the API or
# matplotlib (tests/integration/cli/test_cli_imports.py).

app = command_group("Custos: governed account recovery.")
db_app = command_group("Database schema.")
policy_app = command_group("Recovery policy files.")
case_app = command_group("Recovery cases.")
app.add_typer(db_app, name="db")
app.add_typer(policy_app, name="policy")
policy_app.command("simulate")(policy_simulate.simulate)
app.add_typer(case_app, name="case")
app.add_typer(operator_app, name="operator")
app.add_typer(keys_cli.keys_app, name="keys")
app.command(name="demo")(demo_cli.demo)
app.command(name="backup")(backup_cli.backup)
app.command(name="restore")(backup_cli.restore)
app.add_typer(audit_cli.audit_app, name="audit")
app.add_typer(audit_cli.evidence_app, name="evidence")
app.add_typer(directories.connector_app, name="connector")
app.add_typer(directories.subjects_app, name="subjects")
app.command(name="drift")(directories.drift)
app.add_typer(export_cli.app, name="export")
app.add_typer(report_cli.app, name="report")
app.add_typer(incident_cli.app, name="incident")
app.add_typer(holds_cli.hold_app, name="hold")
app.add_typer(ssf_cli.app, name="ssf")
app.command(name="doctor")(doctor_cli.doctor)
app.add_typer(owners_cli.owners_app, name="owners")
app.add_typer(campaign_app, name="campaign")
app.add_typer(oversight_cli.app, name="oversight")
app.add_typer(exceptions_cli.exception_app, name="exception")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="CUSTOS_CONFIG", help="TOML configuration file."),
]
DataOpt = Annotated[Path | None, typer.Option("--data-dir", help="Data folder (SQLite, keys).")]


@app.callback()
def main(ctx: typer.Context, config: ConfigOpt = None, data_dir: DataOpt = None) -> None:
    ctx.obj = CliState(config=config, data_dir=data_dir)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the schema to the newest revision."""
    from custos.store.database import make_engine, upgrade

    with failures():
        settings = state(ctx).settings()
        upgrade(make_engine(settings.effective_database_url))
    console.print("database is at the newest revision")


@policy_app.command("check")
def policy_check(ctx: typer.Context, file: Path) -> None:
    """Validate a policy file against the configured targets: exit 0 when valid,
    1 with file:line: reason when not (also for a required post-recovery check
    that no configured target can run)."""
    from custos.connectors.registry import configured_capabilities
    from custos.policy.loader import PolicyError, load_policy, require_runnable_checks

    with failures():
        targets = state(ctx).settings().targets
        capabilities = configured_capabilities(targets)
    try:
        loaded = load_policy(file)
        require_runnable_checks(loaded, capabilities)
    except PolicyError as exc:
        for problem in exc.problems:
            err_console.print(str(problem), markup=False, soft_wrap=True)
        raise typer.Exit(1) from None
    from custos.policy.actions import explain, matches_shared
    from custos.policy.temporary_access_pass import explain_pass
    from custos.service.console.policy_summary import holds

    tiers = ", ".join(t.name for t in loaded.document.tiers)
    console.print(f"{file}: valid (version {loaded.version}, {loaded.hash})")
    console.print(f"tiers, first match wins: {tiers}")
    for tier in loaded.document.tiers:
        console.print(
            f"  {tier.name}: {tier.action}: "
            + explain(
                tier.action,
                tier.instructions,
                tier.rotation,
                shared=matches_shared(tier.match.kind),
            ),
            markup=False,
            soft_wrap=True,
        )
        if tier.temporary_access_pass is not None:
            issuers = sorted(n for n, ops in capabilities.items() if "temporary_access_pass" in ops)
            console.print(
                "    " + explain_pass(tier.temporary_access_pass, issuers),
                markup=False,
                soft_wrap=True,
            )
    for label, value in holds(loaded.document):
        console.print(escape(f"{label.lower()}: {value}"))
    console.print(f"every required check can run on the targets: {', '.join(sorted(targets))}")


@case_app.command("list")
def case_list(
    ctx: typer.Context,
    state_: Annotated[str | None, typer.Option("--state", help="Only cases in this state.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only this subject's cases.")] = None,
    limit: int = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Cases, newest first."""
    from rich.table import Table

    from custos.service.recovery import queries

    with failures():
        wanted = _state(state_)
        rows = queries.list_cases(
            state(ctx).services(), None, state=wanted, subject_id=subject, limit=limit
        )
    if as_json:
        console.print_json(json.dumps(rows, default=str))
        return
    table = Table(title=f"{len(rows)} case(s)")
    table.add_column("case", no_wrap=True, min_width=24)
    for column in ("subject", "state", "tier", "risk", "channel", "opened (UTC)"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r["id"],
            r["subject_id"],
            r["state"],
            r["tier"],
            f"{r['risk_score']} {r['risk_band']}",
            r["channel"],
            r["opened_at"].strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


def _state(value: str | None) -> CaseState | None:
    from custos.domain.states import CaseState

    if value is None:
        return None
    try:
        return CaseState(value)
    except ValueError:
        from custos.domain.errors import InvalidInput

        raise InvalidInput(
            f"unknown state '{value}'; one of: " + ", ".join(s.value for s in CaseState)
        ) from None


@case_app.command("show")
def case_show(
    ctx: typer.Context, case_id: str, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """One case as a readable timeline."""
    from custos.cli.timeline import case_panel
    from custos.service.recovery import queries

    with failures():
        detail = queries.case_detail(state(ctx).services(), None, case_id)
    if as_json:
        console.print_json(json.dumps(detail))
    else:
        console.print(case_panel(detail))


@case_app.command("break-glass")
def case_break_glass(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="The blocked case (case-...).")],
    exception: Annotated[
        str, typer.Option("--exception", "-e", help="The active break_glass exception (exc-...).")
    ],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why (kept in the ledger).")],
    token: holds_cli.TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Send a blocked case on under an active break-glass exception: the hold
    keeps standing, this case alone goes on and needs the tier's approvers plus
    a security approver (never you). Security is alerted by mail and webhook."""
    from custos.service.exceptions import break_glass

    with failures():
        svc = state(ctx).services()
        operator = holds_cli.operator_for(svc, token, act="break-glass names who invoked it")
        case = break_glass.invoke(svc, operator, case_id, exception_id=exception, reason=reason)
    summary = {
        "id": case.id,
        "state": str(case.state),
        "tier": case.requirements.tier,
        "approvals": case.requirements.approvals,
        "exception": exception,
    }
    if as_json:
        console.print_json(json.dumps(summary))
        return
    console.print(
        escape(
            f"break-glass used on {case.id}: now {case.state}; it needs "
            f"{case.requirements.approvals} approvals, one from a security approver"
        )
    )


@app.command("outbox")
def outbox(
    ctx: typer.Context,
    last: int = 10,
    to: Annotated[str | None, typer.Option(help="Only messages to this address.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(help="Only messages of this kind: email_code, reset_link, recovery_notice..."),
    ] = None,
) -> None:
    """Messages the demo 'sent' (the demo's stand-in for subjects' inboxes)."""
    from custos.notify.outbox import read_outbox

    with failures():
        folder = state(ctx).settings().effective_outbox
    messages = [
        m
        for m in read_outbox(folder)
        if (to is None or m["to"] == to) and (kind is None or m["kind"] == kind)
    ][-last:]
    if not messages:
        console.print(f"the outbox {folder} is empty")
    for m in messages:
        console.rule(escape(f"{m['sent_at'][:19]}  to {m['to']}  [{m['kind']}]"))
        console.print(f"Subject: {m['subject']}", markup=False, soft_wrap=True)
        console.print(m["body"], markup=False, soft_wrap=True)


@app.command("serve")
def serve(ctx: typer.Context) -> None:
    """Run the HTTP API (``custos worker`` runs propagation)."""
    import uvicorn

    from custos import logs
    from custos.api.app import create_app
    from custos.api.serving import server_config

    with failures():
        settings = state(ctx).settings()
        logs.configure(settings.log_level)
        svc = state(ctx).services()
    uvicorn.Server(server_config(create_app(svc), host=settings.host, port=settings.port)).run()


@app.command("worker")
def worker(ctx: typer.Context) -> None:
    """Run the propagation worker until interrupted."""
    import signal
    import threading

    from custos import logs
    from custos.bootstrap import settle_worker_process
    from custos.propagation.worker import Worker

    with failures():
        settings = state(ctx).settings()
        logs.configure(settings.log_level)
        svc = state(ctx).services()
    settle_worker_process()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    Worker(svc).run_forever(stop)


if __name__ == "__main__":  # pragma: no cover
    app()
