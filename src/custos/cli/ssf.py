"""``custos ssf streams list|add|remove|verify`` and ``custos ssf keys
list|rotate|retire``: shared-signals streams and SET signing keys, for admins
on a Custos host (docs/shared-signals.md). A push Authorization value is read
from a file, an environment variable or a hidden prompt, never from the
command line (shell history, process lists)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from custos.cli.context import command_group, console, escape, fail, failures, state

app = command_group("Shared signals (OpenID SSF): streams to relying parties, SET keys.")
streams_app = command_group("Receivers' streams.")
keys_app = command_group("The keys SETs are signed with.")
app.add_typer(streams_app, name="streams")
app.add_typer(keys_app, name="keys")

#: Short names the ``--event`` option takes besides full URIs.
EVENT_NAMES = ("credential-change", "session-revoked")


def _admin() -> str:
    return f"admin:{getpass.getuser()}"


def _short(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


@streams_app.command("list")
def list_streams(ctx: typer.Context) -> None:
    """Every stream: endpoint, audience, events, status, and SETs waiting."""
    from rich.table import Table

    from custos.service.shared_signals import streams

    with failures():
        svc = state(ctx).services()
        found = streams.all_streams(svc)
        waiting = streams.backlog(svc)
    if not found:
        console.print("no stream: add one with 'custos ssf streams add'")
        return
    table = Table(title=f"{len(found)} stream(s)")
    for column in ("stream", "endpoint", "aud", "events", "status", "auth", "waiting"):
        table.add_column(column, no_wrap=column in ("stream", "status"))
    for s in found:
        backlog = waiting.get(s.id)
        pending = "0" if backlog is None else str(backlog.waiting)
        if backlog is not None and backlog.last_error:
            pending += f" (last: {backlog.last_error})"
        table.add_row(
            s.id,
            escape(s.endpoint_url),
            escape(", ".join(s.audience)),
            ", ".join(_short(e) for e in s.events_delivered) or "-",
            str(s.status) + (f": {escape(s.status_reason)}" if s.status_reason else ""),
            "yes" if s.has_authorization else "no",
            escape(pending),
        )
    console.print(table)


def _authorization(file: Path | None, env: str | None, ask: bool) -> str | None:
    given = [x for x in (file, env, ask or None) if x is not None]
    if len(given) > 1:
        fail(
            "invalid_input",
            "give at most one of --authorization-file, --authorization-env, --ask-authorization",
        )
        raise typer.Exit(1)
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            fail("invalid_input", f"cannot read {file}: {exc.strerror}")
            raise typer.Exit(1) from None
    if env is not None:
        value = os.environ.get(env)
        if value is None:
            fail("invalid_input", f"environment variable {env} is not set")
            raise typer.Exit(1)
        return value
    if ask:
        return getpass.getpass("Authorization header value (e.g. 'Bearer ...'): ")
    return None


def _event_uris(events: list[str] | None) -> tuple[str, ...] | None:
    from custos.domain.shared_signals import CAEP

    if not events:
        return None
    return tuple(f"{CAEP}{e}" if e in EVENT_NAMES else e for e in events)


@streams_app.command("add")
def add(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Option("--endpoint", help="The receiver's https push URL.")],
    audience: Annotated[
        list[str] | None,
        typer.Option(
            "--audience", help="The SETs' aud (repeatable; default: the endpoint origin)."
        ),
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            help="credential-change, session-revoked or an event URI (repeatable; default: all).",
        ),
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    authorization_file: Annotated[
        Path | None,
        typer.Option("--authorization-file", help="File holding the push Authorization value."),
    ] = None,
    authorization_env: Annotated[
        str | None,
        typer.Option("--authorization-env", help="Variable holding the push Authorization value."),
    ] = None,
    ask_authorization: Annotated[
        bool, typer.Option("--ask-authorization", help="Prompt for it (hidden).")
    ] = False,
) -> None:
    """Add a push stream; prints its id."""
    from custos.service.shared_signals import streams

    authorization = _authorization(authorization_file, authorization_env, ask_authorization)
    with failures():
        stream = streams.create(
            state(ctx).services(),
            actor=_admin(),
            delivery=streams.Delivery(endpoint_url=endpoint, authorization=authorization),
            events_requested=_event_uris(event),
            description=description,
            audience=tuple(audience) if audience else None,
        )
    events = ", ".join(_short(e) for e in stream.events_delivered) or "none"
    console.print(f"stream {stream.id} added: {escape(endpoint)} ({events})")


@streams_app.command("remove")
def remove(ctx: typer.Context, stream_id: str) -> None:
    """Delete a stream; the SETs waiting for it are dropped."""
    from custos.service.shared_signals import streams

    with failures():
        streams.delete(state(ctx).services(), actor=_admin(), stream_id=stream_id)
    console.print(f"stream {escape(stream_id)} removed")


@streams_app.command("verify")
def verify(
    ctx: typer.Context,
    stream_id: str,
    state_value: Annotated[
        str | None, typer.Option("--state", help="Echoed in the verification event.")
    ] = None,
) -> None:
    """Queue a verification event; the worker pushes it."""
    from custos.service.shared_signals import streams

    with failures():
        streams.request_verification(
            state(ctx).services(), actor=_admin(), stream_id=stream_id, state=state_value
        )
    console.print(f"verification queued on {escape(stream_id)}: the worker pushes it")


@keys_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """The keys in the ring, oldest first; the last one signs."""
    from custos.service.shared_signals.keys import key_ring

    with failures():
        ring = key_ring(state(ctx).services())
        keys = ring.published()
    if not keys:
        console.print(f"no key in {ring.folder}: run 'custos ssf keys rotate'")
        return
    for i, key in enumerate(keys):
        marker = " (signs)" if i == len(keys) - 1 else ""
        console.print(f"{key.kid}  {key.alg}  created {key.created_at}{marker}")


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context,
    algorithm: Annotated[
        str | None,
        typer.Option("--algorithm", help="ES256, RS256 or EdDSA (default: [ssf] algorithm)."),
    ] = None,
) -> None:
    """Add a key that signs from now on; the previous one stays published."""
    from custos.service.shared_signals import keys

    with failures():
        key = keys.rotate(state(ctx).services(), algorithm=algorithm, actor=_admin())
    console.print(f"key {key.kid} ({key.alg}) signs from now on")


# A kid is an RFC 7638 thumbprint in base64url, which may begin with "-": taken
# as the argument, not refused as an unknown option.
@keys_app.command("retire", context_settings={"ignore_unknown_options": True})
def retire(ctx: typer.Context, kid: str) -> None:
    """Stop publishing an old key (never the one that signs)."""
    from custos.service.shared_signals import keys

    with failures():
        key = keys.retire(state(ctx).services(), kid, actor=_admin())
    console.print(f"key {key.kid} retired: no longer in the JWKS")
