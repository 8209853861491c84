"""``capconnect benchmark``: the real-data benchmark on investment events (CrunchBase 2013 or any file).

The file goes through the real import path into a *scratch* database on the configured (or
embedded) server, the events are read back with SQL, the scratch database is dropped (unless
``--keep``), and the protocol runs in the pure core (:mod:`matching.benchmark`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import typer
from rich import box
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from capconnect.commands.common import console, database, err_console, fail
from capconnect.db.batch import MarketBatch, save_batch
from capconnect.db.scratch import read_deals, scratch_database
from matching.benchmark.baselines import BASELINE_MEANING
from matching.benchmark.candidates import DIRECTIONS
from matching.benchmark.deals import Cut, deals_from_rows
from matching.benchmark.model import ModelConfig
from matching.benchmark.protocol import CRUNCHBASE_CUTS, SCORERS, progress_steps, run_cut
from matching.errors import FieldError
from matching.ingest.crunchbase import ATTRIBUTION, read_crunchbase
from matching.ingest.investment_events import InvestmentEvents, parse_investment_events
from matching.ingest.reader import read_table

logger = logging.getLogger(__name__)
app = typer.Typer(help="Real-data benchmark: time-split evaluation of the ranker beside baselines.",
                  no_args_is_help=True)

PROTOCOL = (
    "unit: distinct (investor, company) pairs; train on events before the cut, evaluate on [cut, end); "
    "enterprise->investor: each company funded in the window ranks every investor with >= 5 portfolio companies "
    "before the cut (cold start = companies never funded before the cut, reported separately); "
    "investor->enterprise: each such investor ranks every company funded in the window except its portfolio; "
    "metrics over the full candidate set"
)
MAX_SHOWN_PROBLEMS = 20


def _parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: '{value}' is not a date; use YYYY-MM-DD (e.g. 2013-01-01)")


@app.command("investment-events")
def investment_events(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="A file in the investment-events format."),
    cut: str = typer.Option(..., "--cut", help="First day of the evaluation window (YYYY-MM-DD)."),
    end: str = typer.Option(None, "--end", help="First day after the window (default: the day after the last event)."),
    json_out: Path = typer.Option(None, "--json", dir_okay=False, help="Write every metric to this JSON file."),
    source: str = typer.Option("events", "--source", help="Name of the data source (keys are per source)."),
    encoding: str = typer.Option(None, "--encoding", help="Force an encoding."),
    keep: bool = typer.Option(False, "--keep", help="Keep the scratch database (its URL is printed)."),
    seed: int = typer.Option(0, "--seed", help="Seed of tie-breaks, the random baseline and training."),
) -> None:
    """Run the benchmark protocol on any investment-events file with one cut."""
    start = _parse_day(cut, "--cut")
    try:
        parsed = parse_investment_events(read_table(file, encoding=encoding), source=source)
    except FieldError as exc:
        fail(f"{file}: {exc}")
    last = max((e.occurred_at.date() for e in parsed.events), default=start)
    stop = _parse_day(end, "--end") if end else last + timedelta(days=1)
    if stop <= start:
        fail(f"--end {stop} must be after --cut {start} (the window is [cut, end))")
    _run(parsed, [Cut("test", start, stop)], json_out=json_out, keep=keep, seed=seed,
         benchmark="investment-events", source=str(file), attribution=None)


@app.command("crunchbase")
def crunchbase(
    directory: Path = typer.Argument(..., exists=True, file_okay=False, help="The CrunchBase 2013 export folder."),
    json_out: Path = typer.Option(None, "--json", dir_okay=False, help="Write every metric to this JSON file."),
    keep: bool = typer.Option(False, "--keep", help="Keep the scratch database (its URL is printed)."),
    seed: int = typer.Option(0, "--seed", help="Seed of tie-breaks, the random baseline and training."),
) -> None:
    """The CrunchBase 2013 protocol: validation cut (2012, used for tuning) and test cut (2013-01-01 … 10-01)."""
    try:
        parsed = read_crunchbase(directory)
    except FieldError as exc:
        fail(str(exc))
    _run(parsed, list(CRUNCHBASE_CUTS), json_out=json_out, keep=keep, seed=seed, benchmark="crunchbase-2013",
         source=str(directory), attribution=ATTRIBUTION)


def _run(parsed: InvestmentEvents, cuts: list[Cut], *, json_out: Path | None, keep: bool, seed: int,
         benchmark: str, source: str, attribution: str | None) -> None:
    if parsed.errors:
        for e in parsed.errors[:MAX_SHOWN_PROBLEMS]:
            err_console.print(f"  row {e.row}: {e.field} = '{e.value}': {e.reason}", markup=False)
        fail(f"{len(parsed.errors)} bad row(s): fix them, the benchmark imports nothing with bad rows")
    t0 = time.perf_counter()
    rows = _import_and_read(parsed, keep=keep)
    import_seconds = time.perf_counter() - t0
    deals = deals_from_rows(rows)
    console.print(f"{len(rows):,} investment events, {deals.n_companies:,} companies, {deals.n_investors:,} investors "
                  f"(imported into a scratch database and read back in {import_seconds:.1f} s)")
    config = ModelConfig()
    results: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as bar:
        task = bar.add_task("benchmark", total=progress_steps(config) * len(cuts))
        for c in cuts:
            try:
                results[c.name] = run_cut(deals, c, config, seed=seed,
                                          progress=lambda label: bar.update(task, advance=1, description=label))
            except ValueError as exc:
                fail(str(exc))
    for c in cuts:
        _print_cut(c, results[c.name])
    total = time.perf_counter() - t0
    report = {
        "benchmark": benchmark,
        "source": source,
        "attribution": attribution,
        "protocol": PROTOCOL,
        "tuned_on": "validation cut only (the model configuration is fixed in matching.benchmark.model)",
        "import": {"rows_read": parsed.rows_read, "events": len(rows), "companies": deals.n_companies,
                   "investors": deals.n_investors, "skipped_rows": len(parsed.skipped),
                   "duplicate_rows": parsed.duplicates, "seconds": round(import_seconds, 2)},
        "scorers": {"model": "LightGBM LambdaRank on point-in-time features", **BASELINE_MEANING},
        "model": config.as_dict(),
        "seed": seed,
        "cuts": results,
        "timings": {"import": round(import_seconds, 2), "total": round(total, 2)},
    }
    console.print(f"benchmark finished in {total:.0f} s")
    if attribution:
        console.print(attribution, highlight=False)
    if json_out:
        json_out.write_text(json.dumps(_json_safe(report), indent=2, ensure_ascii=False), encoding="utf-8")
        console.print(f"metrics written to {json_out}")


def _json_safe(value: Any) -> Any:
    """NaN (a metric with no query to average over) becomes null: strict JSON has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _import_and_read(parsed: InvestmentEvents, *, keep: bool) -> list:  # type: ignore[type-arg]
    batch = MarketBatch(enterprises=parsed.enterprises, investors=parsed.investors, events=parsed.events)
    with database(migrate=False) as main:
        try:
            with scratch_database(main.url, keep=keep) as scratch:
                save_batch(scratch, batch)
                if keep:
                    console.print(f"scratch database kept: {scratch.url}")
                return read_deals(scratch)
        except ValueError as exc:  # unresolved references: nothing was written
            fail(str(exc))
        except psycopg.errors.InsufficientPrivilege:
            fail("the database user may not create the scratch database: grant it CREATEDB "
                 "(ALTER ROLE <user> CREATEDB) or unset CAPCONNECT_DATABASE_URL to use the embedded server")


_COLUMNS = (("recall@10", "R@10"), ("recall@20", "R@20"), ("recall@50", "R@50"), ("recall@100", "R@100"),
            ("ndcg@10", "NDCG@10"), ("mrr", "MRR"), ("auc", "AUC"))


def _print_cut(cut: Cut, result: dict[str, Any]) -> None:
    counts = result["counts"]
    console.print(f"\n[bold]{cut.name} cut[/]: train < {cut.start}, window [{cut.start}, {cut.end}); "
                  f"{counts['eligible_investors']:,} investors with >= 5 companies, "
                  f"{counts['window_companies']:,} companies funded in the window "
                  f"({counts['window_companies_cold']:,} never funded before)", highlight=False)
    for direction in DIRECTIONS:
        for subset in ("all", "cold_start"):
            metrics = result["directions"][direction]["metrics"][subset]
            if not metrics.get("model"):
                continue
            label = "all queries" if subset == "all" else "cold-start companies"
            table = Table(title=f"{cut.name} · {_DIRECTION_LABEL[direction]} · {label}", title_justify="left",
                          box=box.SIMPLE_HEAD, pad_edge=False)
            table.add_column("scorer")
            for _, header in _COLUMNS:
                table.add_column(header, justify="right")
            table.add_column("queries", justify="right")
            for scorer in SCORERS:
                m = metrics.get(scorer)
                if m:
                    table.add_row(scorer, *(f"{m[k]:.3f}" for k, _ in _COLUMNS), f"{m['queries']:,}",
                                  style="bold" if scorer == "model" else None)
            console.print(table)


_DIRECTION_LABEL = {
    "enterprise_to_investor": "enterprise → investor",
    "investor_to_enterprise": "investor → enterprise",
}
