"""``capconnect export …``: records in the import format, and the enterprise profiles for government platforms.

``capconnect export ENTITY OUT`` (enterprises, investors, mandates, needs, secondaries, events) writes the
import format (:func:`cli.commands.data.export`); ``capconnect export profiles --format jsonl|csv --out FILE
[--district …]`` writes one 企业画像 record per enterprise as far as its disclosure settings allow
(:mod:`api.services.profile_export`; schema ``matching/ingest/enterprise_profile.schema.json``).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from api.errors import ApiError
from api.services import profile_export as service
from api.services.checks import district_codes
from cli.commands import data
from cli.commands.common import console, database, fail
from matching.ingest import profile_export as shape

app = typer.Typer(help="Export market records (import format) or enterprise profiles (企业画像).",
                  no_args_is_help=True)


def _entity_command(entity: data.Entity):  # type: ignore[no-untyped-def]
    def command(
        out: Path = typer.Argument(..., dir_okay=False, help="Output file."),
        fmt: data.Fmt = typer.Option(None, "--format", help="csv (UTF-8 with BOM) or xlsx; default: the suffix."),
    ) -> None:
        data.export(entity, out, fmt)

    command.__doc__ = f"Export {entity.value} in the import format (export then import changes nothing)."
    return command


for _entity in data.Entity:
    app.command(_entity.value)(_entity_command(_entity))


class ProfileFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


class CsvEncoding(StrEnum):
    utf8 = "utf-8"
    gb18030 = "gb18030"


@app.command("profiles")
def profiles(
    out: Path = typer.Option(..., "--out", dir_okay=False, help="Output file."),
    fmt: ProfileFormat = typer.Option(ProfileFormat.jsonl, "--format", help="jsonl, or csv (flattened columns)."),
    encoding: CsvEncoding = typer.Option(CsvEncoding.utf8, "--encoding", help="CSV: utf-8 or gb18030."),
    bom: bool = typer.Option(True, "--bom/--no-bom", help="CSV in UTF-8: start with a byte-order mark (Excel)."),
    district: list[str] = typer.Option(None, "--district", help="Only these districts (code or name; repeat)."),
) -> None:
    """Enterprise profiles for government data platforms (企业画像): one record per enterprise, schema 1.0."""
    try:
        codes = district_codes(district or None)
    except ApiError as exc:
        fail(f"--district: {exc.en} ({exc.zh}); give a district code such as 500103 or a name such as 渝中区")
    n = 0
    with database() as db, db.connect(autocommit=True) as conn, out.open("wb") as f:
        def counted():  # type: ignore[no-untyped-def]
            nonlocal n
            for r in service.records(conn, district=codes):
                n += 1
                yield r
        if fmt is ProfileFormat.csv:
            for chunk in shape.csv_chunks(counted(), encoding=encoding.value, bom=bom):  # type: ignore[arg-type]
                f.write(chunk)
        else:
            for line in shape.jsonl_lines(counted()):
                f.write(line.encode("utf-8"))
    console.print(f"{n:,} enterprise profiles written to {out} ({fmt.value}, schema {shape.SCHEMA_VERSION})")
