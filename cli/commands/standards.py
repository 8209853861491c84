"""``capconnect import standards FILE.json``: replace the listing and tier standards in force (operators).

The file is validated as a whole first (:func:`matching.readiness.standards.parse_standards`): a bad
criterion is named (``targets[bse].sets[bse_2].criteria[1].metric: …``) and nothing is written. A valid file
becomes the version in force (:mod:`store.standards`); re-importing the same version changes nothing.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import typer
from rich.markup import escape

from cli.commands.common import console, database, fail
from matching.errors import FieldError
from store import standards as store


def import_standards(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="The standards file (JSON; UTF-8, GBK or GB18030)."),
    by: str = typer.Option(None, "--by", help="Who imports it (default: cli:<user>)."),
) -> None:
    """Import listing and tier standards (JSON): validated as a whole, one bad criterion imports nothing."""
    who = by or f"cli:{getpass.getuser()}"
    with database() as db, db.connect() as conn:
        try:
            std, written = store.import_standards(conn, file.read_bytes(), imported_by=who)
        except FieldError as exc:
            fail(escape(f"{file}: {exc}; nothing was imported"))  # paths like targets[bse] are not markup
    state = "imported, now in force" if written else "already imported (unchanged)"
    console.print(f"standards {std.version} ({len(std.targets)} targets, hash {std.hash[:12]}): {state}",
                  highlight=False)
