"""Helpers shared by the sub-commands: settings, the database, errors that exit cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from rich.console import Console

from matching.config import Settings, get_settings
from store.database import Database, open_database
from store.embedded import EmbeddedPostgresError

console = Console(stderr=False, soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print an error (red, on stderr) and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def settings() -> Settings:
    """The process settings (an invalid environment variable exits with its message)."""
    try:
        return get_settings()
    except Exception as exc:  # pydantic's ValidationError names the variable and the problem
        fail(f"invalid settings: {exc}")


@contextmanager
def database(*, migrate: bool = True) -> Iterator[Database]:
    """The (migrated) database; the embedded server started here stops when the command ends."""
    try:
        with open_database(settings(), migrate=migrate) as db:
            yield db
    except EmbeddedPostgresError as exc:
        fail(str(exc))
