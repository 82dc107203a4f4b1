"""Shared CLI plumbing: loading settings and services, and turning errors into
one readable line with the stable error id and a non-zero exit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from custos.bootstrap import bootstrap
from custos.config import Settings, load_settings
from custos.domain.errors import DomainError
from custos.service.ports import Services

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


@dataclass
class CliState:
    config: Path | None = None
    data_dir: Path | None = None

    def settings(self) -> Settings:
        overrides = {"data_dir": self.data_dir} if self.data_dir else {}
        return load_settings(self.config, **overrides)

    def services(self, *, migrate: bool = False, create_key: bool = False) -> Services:
        return bootstrap(self.settings(), migrate=migrate, create_key=create_key)


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
    """Print a DomainError as ``error [id]: message`` and exit 1."""
    try:
        yield
    except DomainError as exc:
        fail(exc.error_id, exc.message)
        raise typer.Exit(1) from None
