"""``custos demo``: the embedded demo on SQLite and the built-in directory.

``custos demo --tour`` plays against the demo of the same data folder when one
is running: it reads the operators' tokens from the demo's record
(``custos.demo.running``) and leaves them valid. When no demo answers, the tour
runs alone: it starts a demo of its own, plays, and stops it. Neither ever
replaces the tokens of a running demo: a start that cannot serve (the address is
taken) fails before any token is rotated."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from custos.cli.context import console, fail, failures, state
from custos.cli.launcher import custos_command

if TYPE_CHECKING:
    from custos.config import Settings
    from custos.demo.running import RunningDemo
    from custos.service.ports import Services

SECRETS_FILE = "demo-subject-secrets.json"


def prepare(svc: Services) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, str]]]:
    """Seed on first run; give every demo operator a fresh token. Returns operator
    tokens, the subjects' TOTP secrets and security keys (the demo plays their
    phones and keys)."""
    from custos.demo import seed as seeding
    from custos.demo.running import write_private_json
    from custos.service.recovery.operators import rotate_token

    secrets_path = svc.settings.data_dir / SECRETS_FILE
    with svc.uow() as uow:
        empty = uow.subjects.count() == 0
    if empty:
        result = seeding.seed(svc)
        write_private_json(
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


def _console_links(svc: Services) -> dict[str, str]:
    """A one-time console sign-in link per demo operator (docs/console.md#the-demo)."""
    from custos.demo import seed as seeding
    from custos.service.console.demo_sign_in import issue_demo_links

    return issue_demo_links(svc, [name for name, *_ in seeding.OPERATORS])


def _bind(host: str, port: int) -> socket.socket:
    """The demo's listening address, taken before anything else happens: a demo
    that cannot serve must not rotate the tokens of the one that does."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _start(
    svc: Services, sock: socket.socket
) -> tuple[Any, threading.Event, list[threading.Thread]]:
    import uvicorn

    from custos.api.app import create_app
    from custos.api.serving import server_config
    from custos.propagation.worker import Worker

    server = uvicorn.Server(
        server_config(create_app(svc), host=svc.settings.host, port=svc.settings.port)
    )
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="custos-api", daemon=True
        ),
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


def _hints(svc: Services, tokens: dict[str, str], links: dict[str, str], custos: str) -> None:
    from custos.demo import seed as seeding

    base = f"http://{svc.settings.host}:{svc.settings.port}"
    console.print(
        "[bold]Demo operators[/]: open an operator's console link to sign in as them "
        "(one click; each link works once, for 30 minutes; new links and API tokens "
        "at every start):"
    )
    for name, roles, scope, groups in seeding.OPERATORS:
        extra = f"; groups {', '.join(groups)}" if groups else ""
        console.print(f"  {name:<16} {', '.join(roles)} on {', '.join(scope)}{extra}", markup=False)
        console.print(f"  {'':<16} console: {links[name]}", markup=False, soft_wrap=True)
        console.print(f"  {'':<16} API:     {tokens[name]}", markup=False, soft_wrap=True)
    inbox = f"{custos} outbox --to bob@{seeding.DOMAIN}"
    console.print(
        f"""
Custos demo is running at {base}  (API docs: {base}/api/v1/docs or /api/v1/redoc)
Console: {base}/  (open an operator's console link above to land in it signed in. A
  demo link is a complete sign-in; real operators sign in with a password and a
  second factor: give one a way in with {custos} operator enrolment-link NAME)
Data folder: {svc.settings.data_dir.resolve()}

Try a self-service recovery as bob (from this folder, in another shell):
  curl -s -XPOST {base}/api/v1/self-service/recoveries -H 'content-type: application/json' \\
       -d '{{"identifier": "bob"}}'                    # note the "flow"
  curl -s -XPOST {base}/api/v1/self-service/recoveries/FLOW/email-code
  {inbox} --kind email_code --last 1   # bob's inbox: the code
  curl -s -XPOST {base}/api/v1/self-service/recoveries/FLOW/proofs \\
       -H 'content-type: application/json' -d '{{"method": "email_code", "code": "CODE"}}'
  {inbox} --kind reset_link --last 1   # the one-time link: open it
  {custos} case list; {custos} case show CASE   # the timeline

Or watch the whole story: {custos} demo --tour
  (in another shell: it plays against this demo; its tokens stay valid)
Ctrl-C stops the demo.
""",
        markup=False,
        soft_wrap=True,
    )


def demo(
    ctx: typer.Context,
    tour: Annotated[
        bool,
        typer.Option(
            "--tour",
            help="Play the guided tour against the running demo of this data folder, "
            "or, when none runs, on a demo of its own that stops afterwards.",
        ),
    ] = False,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
) -> None:
    """Run Custos on SQLite and the built-in directory with a seeded organisation."""
    from custos.demo import running

    with failures():
        settings = state(ctx).settings()
        overrides: dict[str, Any] = {"port": port} if port else {}
        if "public_origin" not in settings.model_fields_set:
            # Links in the demo mailbox must open this very demo.
            overrides["public_origin"] = f"http://{settings.host}:{port or settings.port}"
        if "metrics_enabled" not in settings.model_fields_set:
            overrides["metrics_enabled"] = True  # the demo shows every face
        settings = settings.model_copy(update=overrides)
    custos = custos_command(state(ctx).options())
    base = f"http://{settings.host}:{settings.port}"
    live = running.read(settings.data_dir)
    if live is not None and running.alive(live.pid) and running.answers(live.base_url):
        if not tour:
            fail(
                "demo_running",
                f"the demo of {settings.data_dir} already runs at {live.base_url} "
                f"(process {live.pid}); a second one on the same data would replace its "
                f"operators' tokens. Play the tour against it: {custos} demo --tour",
            )
            raise typer.Exit(1)
        console.print(
            f"A demo of this data folder runs at {live.base_url}: the tour plays against it "
            "(its operators' tokens stay valid).",
            markup=False,
            soft_wrap=True,
        )
        _play(live)
        return
    if running.answers(base):
        fail(
            "address_in_use",
            f"a Custos already answers at {base}, but {settings.data_dir} records no demo "
            "running there. Give that demo's --data-dir, or another --port.",
        )
        raise typer.Exit(1)
    try:
        sock = _bind(settings.host, settings.port)
    except OSError as exc:
        fail("address_in_use", f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}")
        raise typer.Exit(1) from None
    if tour:
        console.print(
            f"No demo answers at {base}: the tour runs alone, on a demo of its own "
            "that stops when the tour ends.",
            markup=False,
            soft_wrap=True,
        )
    _serve(settings, sock, tour=tour, custos=custos)


def _serve(settings: Settings, sock: socket.socket, *, tour: bool, custos: str) -> None:
    from custos import logs
    from custos.bootstrap import bootstrap
    from custos.demo import running

    with failures():
        logs.configure("warning")
        svc = bootstrap(settings, migrate=True, create_key=True)
        tokens, _, _ = prepare(svc)
        links = {} if tour else _console_links(svc)
    server, stop, threads = _start(svc, sock)
    me = running.RunningDemo(
        base_url=f"http://{settings.host}:{settings.port}",
        origin=settings.public_origin,
        outbox=settings.effective_outbox.resolve(),
        secrets_file=(settings.data_dir / SECRETS_FILE).resolve(),
        pid=os.getpid(),
        tokens=tokens,
    )
    running.record(settings.data_dir, me)
    try:
        if tour:
            _play(me)
            return
        _hints(svc, tokens, links, custos)
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        running.forget(settings.data_dir, me.pid)
        stop.set()
        server.should_exit = True
        for thread in threads:
            thread.join(timeout=10)


def _play(demo: RunningDemo) -> None:
    """Both stories over HTTP against ``demo``, each case's timeline printed."""
    from custos.cli.timeline import case_panel
    from custos.demo.tour import Tour, TourFailed

    stored = _secrets(demo.secrets_file)
    guide = Tour(
        demo.base_url,
        demo.outbox,
        demo.tokens,
        stored.get("totp", {}),
        say=lambda text: console.print(text),
        webauthn_keys=stored.get("webauthn", {}),
        origin=demo.origin,
    )
    try:
        guide.check_tokens()
        for story in (guide.self_service, guide.helpdesk):
            detail = story()
            console.print(case_panel(detail))
            if detail["state"] != "completed":
                raise TourFailed(f"case {detail['id']} ended {detail['state']}")
    except TourFailed as exc:
        console.print(f"[red]tour failed:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"[green]tour complete:[/] both recoveries completed and verified at {demo.base_url}"
    )


def _secrets(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data
