"""``capconnect generate | import | export``: market data in and out of the database."""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path

import typer
from tqdm import tqdm

from cli.commands.common import console, database, err_console, fail
from cli.commands.standards import import_standards
from matching.errors import FieldError
from matching.ingest.crunchbase import read_crunchbase
from matching.ingest.export import export_rows
from matching.ingest.investment_events import parse_investment_events
from matching.ingest.reader import read_table
from matching.synth.generator import generate_market
from store import exports
from store.batch import MarketBatch, save_batch
from store.importing import ImportReport, import_file

import_app = typer.Typer(help="Bulk import (CSV, XLSX, JSONL; UTF-8, GB18030/GBK, Mac Roman).", no_args_is_help=True)

MAX_SHOWN_PROBLEMS = 50


def _progress(total: int, desc: str) -> tuple[tqdm, object]:
    bar = tqdm(total=total, desc=desc, unit="rows", unit_scale=True, dynamic_ncols=True, leave=False)
    return bar, bar.update


def generate(
    enterprises: int = typer.Option(5000, "--enterprises", "-e", min=1, help="Number of enterprises."),
    investors: int = typer.Option(600, "--investors", "-i", min=1, help="Number of investors."),
    months: int = typer.Option(24, "--months", "-m", min=1, max=120, help="Months of funnel history."),
    seed: int = typer.Option(7, "--seed", "-s", help="Same seed, same market."),
) -> None:
    """Generate a synthetic Chongqing market and load it (idempotent: same seed, same rows)."""
    t0 = time.perf_counter()
    market = generate_market(enterprises, investors, months, seed, progress=True)
    t1 = time.perf_counter()
    batch = MarketBatch(market.enterprises, market.investors, market.mandates, market.needs, market.secondaries,
                        market.events)
    total = sum(len(x) for x in (batch.enterprises, batch.investors, batch.mandates, batch.needs,
                                 batch.secondaries, batch.events))
    with database() as db:
        bar, tick = _progress(total, "loading")
        with bar:
            counts = save_batch(db, batch, progress=tick)  # type: ignore[arg-type]
    t2 = time.perf_counter()
    _print_counts(counts)
    console.print(f"generated in {t1 - t0:.1f} s, loaded in {t2 - t1:.1f} s "
                  f"({total / max(t2 - t1, 1e-9):,.0f} rows/s)")


def _print_counts(counts: list) -> None:  # type: ignore[type-arg]
    for c in counts:
        d = c.as_dict()
        console.print(f"{c.table:<22} received {d['received']:>9,}  inserted {d['inserted']:>9,}  "
                      f"updated {d['updated']:>9,}  unchanged {d['unchanged']:>9,}", highlight=False)


def _import_entity(entity: str):  # type: ignore[no-untyped-def]
    def command(
        file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="CSV, XLSX or JSONL."),
        encoding: str = typer.Option(None, "--encoding", help="Force an encoding (utf-8, gb18030, gbk, mac_roman)."),
        skip_invalid: bool = typer.Option(False, "--skip-invalid", help="Import the good rows, reject the bad."),
        rejects: Path = typer.Option(None, "--rejects", help="Where rejected rows go (default FILE.rejects.csv)."),
    ) -> None:
        with database() as db:
            t0 = time.perf_counter()
            bar = tqdm(desc=f"importing {entity}", unit="rows", unit_scale=True, dynamic_ncols=True, leave=False)
            try:
                with bar:
                    report = import_file(db, entity, file, encoding=encoding, skip_invalid=skip_invalid,
                                         rejects_path=rejects, progress=bar.update)
            except FieldError as exc:
                fail(f"{file}: {exc}")
            _print_report(report, time.perf_counter() - t0)
        if report.problems and not skip_invalid:
            raise typer.Exit(1)

    command.__doc__ = f"Import {entity} from a file (atomic: one bad row imports nothing)."
    return command


for _entity in ("enterprises", "investors", "mandates", "needs", "secondaries", "events", "programmes"):
    import_app.command(_entity)(_import_entity(_entity))


def _print_report(report: ImportReport, seconds: float) -> None:
    console.print(f"{report.path}: {report.rows:,} rows, encoding {report.encoding}")
    if report.problems:
        err_console.print(f"[bold red]{len(report.problems)} problem(s):[/]")
        for p in report.problems[:MAX_SHOWN_PROBLEMS]:
            err_console.print(f"  {p}", highlight=False, markup=False)
        if len(report.problems) > MAX_SHOWN_PROBLEMS:
            err_console.print(f"  … and {len(report.problems) - MAX_SHOWN_PROBLEMS} more")
    if report.committed:
        _print_counts(report.counts)
        console.print(f"imported in {seconds:.1f} s ({report.rows / max(seconds, 1e-9):,.0f} rows/s)")
        if report.rejects_path:
            console.print(f"{report.rejected_rows} rejected row(s) written to {report.rejects_path}")
    else:
        err_console.print("[bold red]nothing imported[/] (fix the rows above, or use --skip-invalid)")


@import_app.command("investment-events")
def import_investment_events(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A file in the investment-events format."),
    source: str = typer.Option("events", "--source", help="Name of the data source (keys are per source)."),
    encoding: str = typer.Option(None, "--encoding", help="Force an encoding."),
) -> None:
    """Import real deals (one row per investor per deal) as enterprises, investors and invested events."""
    parsed = parse_investment_events(read_table(file, encoding=encoding), source=source)
    _save_investment_events(parsed)


@import_app.command("crunchbase")
def import_crunchbase(
    directory: Path = typer.Argument(..., exists=True, file_okay=False, help="The CrunchBase 2013 export folder."),
) -> None:
    """Import the CrunchBase October 2013 export (Mac Roman, CR line endings) as investment events."""
    _save_investment_events(read_crunchbase(directory))


def _save_investment_events(parsed) -> None:  # type: ignore[no-untyped-def]
    if parsed.errors:
        for e in parsed.errors[:MAX_SHOWN_PROBLEMS]:
            err_console.print(f"  row {e.row}: {e.field} = '{e.value}': {e.reason}", markup=False)
        fail(f"{len(parsed.errors)} bad row(s): nothing imported")
    batch = MarketBatch(enterprises=parsed.enterprises, investors=parsed.investors, events=parsed.events)
    total = len(parsed.enterprises) + len(parsed.investors) + len(parsed.events)
    with database() as db:
        t0 = time.perf_counter()
        bar, tick = _progress(total, "loading")
        with bar:
            counts = save_batch(db, batch, progress=tick)  # type: ignore[arg-type]
        seconds = time.perf_counter() - t0
    _print_counts(counts)
    skipped = getattr(parsed, "skipped", [])
    console.print(f"{parsed.rows_read:,} investment rows read → {len(parsed.events):,} distinct events, "
                  f"{len(parsed.enterprises):,} companies, {len(parsed.investors):,} investors; "
                  f"{len(skipped):,} rows skipped; loaded in {seconds:.1f} s")
    if skipped:
        reasons: dict[str, int] = {}
        for s in skipped:
            reasons[s.reason] = reasons.get(s.reason, 0) + 1
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            console.print(f"  skipped {n:,}: {reason}")


class Entity(StrEnum):
    enterprises = "enterprises"
    investors = "investors"
    mandates = "mandates"
    needs = "needs"
    secondaries = "secondaries"
    events = "events"


class Fmt(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


def export(
    entity: Entity = typer.Argument(..., help="What to export."),
    out: Path = typer.Argument(..., dir_okay=False, help="Output file."),
    fmt: Fmt = typer.Option(None, "--format", help="csv (UTF-8 with BOM, opens in Excel) or xlsx; default: suffix."),
) -> None:
    """Export records in the import format (CSV UTF-8 with BOM, or XLSX): export then import changes nothing."""
    chosen = fmt.value if fmt else ("xlsx" if out.suffix.lower() == ".xlsx" else "csv")
    with database() as db, db.connect() as conn:
        columns, rows = exports.fetch(conn, entity.value)
    export_rows(rows, out, columns=columns, fmt=chosen)  # type: ignore[arg-type]
    console.print(f"{len(rows):,} {entity.value} written to {out} ({chosen})")


import_app.command("standards")(import_standards)
