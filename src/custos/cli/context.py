"""Shared CLI plumbing: loading settings and services, and turning errors into
one readable line with the stable error id and a non-zero exit.

Every CLI module imports only typer, rich and light parts of custos at module
level: ``custos --help`` must not pay for the application (SQLAlchemy, the API,
matplotlib). Commands import what they use inside their own body."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from custos.domain.errors import DomainError

if TYPE_CHECKING:
    from rich.console import Console

    from custos.config import Settings
    from custos.service.ports import Services


class LazyConsole:
    """A rich Console made at its first use: importing rich.console took a
    fifth of ``custos --help``, which prints through typer alone. Give rich's
    own APIs (progress bars, renderers) :attr:`real`. rich reads ``COLUMNS``
    only when a Console is made, so a changed ``COLUMNS`` makes a new one (one
    process running several commands, as the tests do, gets each one's width).
    Printed text is wrapped on a terminal only; tables keep their width."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._made: Console | None = None
        self._columns: str | None = None

    @property
    def real(self) -> Console:
        columns = os.environ.get("COLUMNS")
        if self._made is None or columns != self._columns:
            from rich.console import Console

            made = Console(stderr=self._stderr, highlight=False)
            # Into a pipe or a file, lines are never broken at the default 80
            # columns: a script (or a test) reads a long path or message whole.
            made.soft_wrap = not made.is_terminal
            self._made = made
            self._columns = columns
        return self._made

    def print(self, *objects: Any, **options: Any) -> None:
        real = self.real
        natural = 0 if real.is_terminal else _table_width(real, objects)
        if natural <= real.width:
            real.print(*objects, **options)
            return
        # Into a pipe or a file, a table is printed at its own width: squeezed
        # into 80 columns it cut values short ("proof…"). rich bounds a print's
        # width by the console's, so the console widens for this print.
        usual = real.width
        real.width = natural
        try:
            real.print(*objects, **options)
        finally:
            real.width = usual

    def print_json(self, json: str) -> None:
        self.real.print_json(json)

    def rule(self, title: str) -> None:
        self.real.rule(title)


def _table_width(real: Console, objects: tuple[Any, ...]) -> int:
    """The widest natural width of the rich tables and panels among ``objects``
    (0: none). rich.table and rich.panel are imported by the commands that
    build them only."""
    kinds = tuple(
        getattr(module, name)
        for module, name in (
            (sys.modules.get("rich.table"), "Table"),
            (sys.modules.get("rich.panel"), "Panel"),
        )
        if module is not None
    )
    if not kinds:
        return 0
    from rich.measure import Measurement

    roomy = real.options.update_width(MAX_TABLE_WIDTH)
    widths = [
        Measurement.get(real, roomy, item).maximum for item in objects if isinstance(item, kinds)
    ]
    return min(max(widths, default=0), MAX_TABLE_WIDTH)


#: The widest a table is printed into a pipe or a file.
MAX_TABLE_WIDTH = 1000

console = LazyConsole()
err_console = LazyConsole(stderr=True)


def command_group(help_text: str) -> typer.Typer:
    """A typer app for one group of commands. Help is printed as plain text:
    typer's rich help renderer (rich tables, markdown-it, pygments) alone took
    longer to import than the rest of ``custos --help`` (bench/cli.py)."""
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )


def escape(text: str) -> str:
    """rich's markup escape, imported when first needed."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


@dataclass
class CliState:
    config: Path | None = None
    data_dir: Path | None = None

    def settings(self) -> Settings:
        from custos.config import load_settings

        overrides = {"data_dir": self.data_dir} if self.data_dir else {}
        return load_settings(self.config, **overrides)

    def services(self, *, migrate: bool = False, create_key: bool = False) -> Services:
        from custos.bootstrap import bootstrap

        return bootstrap(self.settings(), migrate=migrate, create_key=create_key)

    def options(self) -> list[str]:
        """The global options this command was given, to repeat in printed
        commands so that they act on the same deployment."""
        given: list[str] = []
        if self.config is not None:
            given += ["--config", str(self.config)]
        if self.data_dir is not None:
            given += ["--data-dir", str(self.data_dir)]
        return given


def state(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def fail(error_id: str, message: str) -> None:
    """Print ``error [id]: message``; the message may hold user input, so it is
    escaped, never read as markup."""
    err_console.print(
        f"[bold red]error[/] {escape(f'[{error_id}]')}: {escape(message)}", soft_wrap=True
    )


@contextmanager
def failures() -> Iterator[None]:
    """Print a DomainError as ``error [id]: message`` and exit 1; so too a file
    that cannot be read or written (``file_error``) and a server that does not
    answer (``server_unreachable``), instead of a traceback."""
    try:
        yield
    except DomainError as exc:
        fail(exc.error_id, exc.message)
        raise typer.Exit(1) from None
    except OSError as exc:
        network = isinstance(exc, ConnectionError | TimeoutError | socket.gaierror)
        fail("server_unreachable" if network else "file_error", _os_error_text(exc))
        raise typer.Exit(1) from None
    except Exception as exc:
        if not _is_http_error(exc):
            raise
        fail("server_unreachable", f"{type(exc).__name__}: {exc}")
        raise typer.Exit(1) from None


def _os_error_text(exc: OSError) -> str:
    """``reason: path`` for an OSError, the path shortened to its last 200
    characters (a name too long to use is the reason itself)."""
    reason = exc.strerror or type(exc).__name__
    if exc.filename is None:
        return reason
    name = str(exc.filename)
    return f"{reason}: {'...' + name[-200:] if len(name) > 200 else name}"


def _is_http_error(exc: Exception) -> bool:
    # httpx is imported only by the commands that call a server: an error of
    # its kind cannot exist unless it was (and importing it here would slow
    # every command down).
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(exc, httpx.HTTPError | httpx.InvalidURL)
