"""``custos demo``: the embedded demo on SQLite and the built-in directory."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from custos import logs
from custos.cli.context import console, failures, state
from custos.cli.timeline import render_case
from custos.demo import seed as seeding
from custos.demo.tour import Tour, TourFailed
from custos.service.ports import Services
from custos.service.recovery import queries
from custos.service.recovery.operators import rotate_token

SECRETS_FILE = "demo-subject-secrets.json"


def _write_private(path: Path, data: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)


def prepare(svc: Services) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, str]]]:
    """Seed on first run; give every demo operator a fresh token. Returns operator
    tokens, the subjects' TOTP secrets and security keys (the demo plays their
    phones and keys)."""
    secrets_path = svc.settings.data_dir / SECRETS_FILE
    with svc.uow() as uow:
        empty = uow.subjects.count() == 0
    if empty:
        result = seeding.seed(svc)
        _write_private(
            secrets_path,
            {
                "totp": result.totp_secrets,
                "recovery_codes": result.recovery_codes,
                "webauthn": result.webauthn_keys,
            },
        )
        console.print(f"seeded {result.subjects} subjects and {len(seeding.OPERATORS)} operators")
    tokens = {
        name: rotate_token(svc, name=name, actor="system:demo") for name, *_ in seeding.OPERATORS
    }
    stored = json.loads(secrets_path.read_text()) if secrets_path.exists() else {"totp": {}}
    return tokens, stored["totp"], stored.get("webauthn", {})


def _start(svc: Services) -> tuple[Any, threading.Event, list[threading.Thread]]:
    import uvicorn

    from custos.api.app import create_app
    from custos.api.serving import server_config
    from custos.propagation.worker import Worker

    server = uvicorn.Server(
        server_config(create_app(svc), host=svc.settings.host, port=svc.settings.port)
    )
    stop = threading.Event()
    threads = [
        threading.Thread(target=server.run, name="custos-api", daemon=True),
        threading.Thread(
            target=Worker(svc).run_forever, args=(stop,), name="custos-worker", daemon=True
        ),
    ]
    for thread in threads:
        thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    else:
        raise typer.Exit(1)
    return server, stop, threads


def _hints(svc: Services, tokens: dict[str, str]) -> None:
    base = f"http://{svc.settings.host}:{svc.settings.port}"
    console.print("[bold]Demo operators[/] (API tokens are new at every start):")
    for name, roles, scope, groups in seeding.OPERATORS:
        extra = f"; groups {', '.join(groups)}" if groups else ""
        console.print(f"  {name:<16} {', '.join(roles)} on {', '.join(scope)}{extra}", markup=False)
        console.print(f"  {'':<16} {tokens[name]}", markup=False, soft_wrap=True)
    console.print(
        f"""
Custos demo is running at {base}  (API docs: {base}/api/v1/docs)
Data folder: {svc.settings.data_dir.resolve()}

Try a self-service recovery as [bold]bob[/]:
  curl -s -XPOST {base}/api/v1/self-service/recoveries -H 'content-type: application/json' \\
       -d '{{"identifier": "bob"}}'                    # note the "flow"
  curl -s -XPOST {base}/api/v1/self-service/recoveries/FLOW/email-code
  custos outbox --last 1                               # bob's inbox: the code
  curl -s -XPOST {base}/api/v1/self-service/recoveries/FLOW/proofs \\
       -H 'content-type: application/json' -d '{{"method": "email_code", "code": "CODE"}}'
  custos outbox --last 1                               # the one-time link: open it
  custos case list; custos case show CASE              # the timeline

Or watch the whole story: custos demo --tour   (Ctrl-C stops the demo)
""",
        soft_wrap=True,
    )


def demo(
    ctx: typer.Context,
    tour: Annotated[bool, typer.Option("--tour", help="Run the guided tour, then stop.")] = False,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
) -> None:
    """Run Custos on SQLite and the built-in directory with a seeded organisation."""
    with failures():
        settings = state(ctx).settings()
        overrides: dict[str, Any] = {"port": port} if port else {}
        if "public_origin" not in settings.model_fields_set:
            # Links in the demo mailbox must open this very demo.
            overrides["public_origin"] = f"http://{settings.host}:{port or settings.port}"
        if "metrics_enabled" not in settings.model_fields_set:
            overrides["metrics_enabled"] = True  # the demo shows every face
        settings = settings.model_copy(update=overrides)
        logs.configure("warning")
        from custos.bootstrap import bootstrap

        svc = bootstrap(settings, migrate=True, create_key=True)
        tokens, totp_secrets, webauthn_keys = prepare(svc)
    server, stop, threads = _start(svc)
    try:
        _hints(svc, tokens)
        if tour:
            _run_tour(svc, tokens, totp_secrets, webauthn_keys)
            return
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        stop.set()
        server.should_exit = True
        for thread in threads:
            thread.join(timeout=10)


def _run_tour(
    svc: Services,
    tokens: dict[str, str],
    totp_secrets: dict[str, str],
    webauthn_keys: dict[str, dict[str, str]],
) -> None:
    base = f"http://{svc.settings.host}:{svc.settings.port}"
    guide = Tour(
        base,
        svc.settings.effective_outbox,
        tokens,
        totp_secrets,
        say=lambda text: console.print(text),
        webauthn_keys=webauthn_keys,
        origin=svc.settings.public_origin,
    )
    try:
        for story in (guide.self_service, guide.helpdesk):
            detail = story()
            render_case(queries.case_detail(svc, None, detail["id"]), console)
            if detail["state"] != "completed":
                raise TourFailed(f"case {detail['id']} ended {detail['state']}")
    except TourFailed as exc:
        console.print(f"[red]tour failed:[/] {exc}")
        raise typer.Exit(1) from None
    console.print("[green]tour complete:[/] both recoveries completed and verified")
