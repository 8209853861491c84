"""``capconnect benchmark``: the production pipeline measured on real investment events.

The file goes through the real import path into a *scratch* database, the market is read back as the
production snapshot, profiles are embedded by the production encoder (cached), and each cut runs
:func:`training.pipeline.fit_and_evaluate`, the function ``capconnect train`` runs, with the
protocol's candidate sets (:mod:`matching.learning.benchmark.adapter`) as its evaluation sets. The report
(:mod:`matching.learning.benchmark.report`) holds every scorer on every subset with bootstrap intervals.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import typer
from rich import box
from rich.table import Table

from cli.commands.common import console, database, err_console, fail, settings
from matching.errors import FieldError
from matching.ingest.crunchbase import ATTRIBUTION, read_crunchbase
from matching.ingest.investment_events import InvestmentEvents, parse_investment_events
from matching.ingest.reader import read_table
from matching.learning.evaluation import SUBSETS
from matching.ranking.bundle import json_safe
from matching.retrieval.encoder.encoder import ensure_default_encoder, load_encoder
from matching.snapshot.core import MarketSnapshot
from store.batch import MarketBatch, save_batch
from store.market_read import read_market
from store.scratch import scratch_database
from training.benchmark import (
    ABLATIONS,
    CRUNCHBASE_CUTS,
    DIRECTION_NAMES,
    PROTOCOL,
    Cut,
    benchmark_config,
    config_hash,
    run_cut,
)
from training.benchmark_report import write_readme
from training.pipeline import TrainingError, embed_inputs

logger = logging.getLogger(__name__)
app = typer.Typer(help="Real-data benchmark: the production pipeline, time-split, beside baselines.",
                  no_args_is_help=True)
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
    seed: int = typer.Option(0, "--seed", help="Seed of sampling, tie-breaks and training."),
    ablations: bool = typer.Option(False, "--ablations", help="Also retrain without text, collaborative, history."),
) -> None:
    """The benchmark protocol on any investment-events file with one cut."""
    start = _parse_day(cut, "--cut")
    try:
        parsed = parse_investment_events(read_table(file, encoding=encoding), source=source)
    except FieldError as exc:
        fail(f"{file}: {exc}")
    last = max((e.occurred_at.date() for e in parsed.events), default=start)
    stop = _parse_day(end, "--end") if end else last + timedelta(days=1)
    if stop <= start:
        fail(f"--end {stop} must be after --cut {start} (the window is [cut, end))")
    _run(parsed, [Cut("test", start, stop)], json_out=json_out, keep=keep, seed=seed, ablations=ablations,
         benchmark="investment-events", source=str(file), attribution=None)


@app.command("crunchbase")
def crunchbase(
    directory: Path = typer.Argument(..., exists=True, file_okay=False, help="The CrunchBase 2013 export folder."),
    cut: str = typer.Option("all", "--cut", help="validation (tuning), test (reporting) or all."),
    json_out: Path = typer.Option(None, "--json", dir_okay=False, help="Write every metric to this JSON file."),
    keep: bool = typer.Option(False, "--keep", help="Keep the scratch database (its URL is printed)."),
    seed: int = typer.Option(0, "--seed", help="Seed of sampling, tie-breaks and training."),
    ablations: bool = typer.Option(False, "--ablations", help="Also retrain without text, collaborative, history."),
    before: str = typer.Option(None, "--history-from", help="Thin data: drop events before this day (YYYY-MM-DD)."),
    max_investors: int = typer.Option(0, "--max-investors", help="Thin data: keep the N most active investors."),
    readme: Path = typer.Option(None, "--readme", dir_okay=False,
                                help="Write the report between the bench:<section> markers of this README."),
    section: str = typer.Option("crunchbase", "--readme-section", help="The README section's marker name."),
) -> None:
    """The CrunchBase 2013 protocol: validation cut (2012, tuning only) and test cut (2013-01-01 … 10-01)."""
    cuts = {c.name: c for c in CRUNCHBASE_CUTS}
    if cut not in (*cuts, "all"):
        fail(f"--cut: '{cut}' is not a cut; allowed: validation, test, all")
    try:
        parsed = read_crunchbase(directory)
    except FieldError as exc:
        fail(str(exc))
    if before or max_investors:
        from matching.learning.benchmark.thin import thin_events

        parsed = thin_events(parsed, since=_parse_day(before, "--history-from") if before else None,
                             max_investors=max_investors or None)
    chosen = list(CRUNCHBASE_CUTS) if cut == "all" else [cuts[cut]]
    _run(parsed, chosen, json_out=json_out, keep=keep, seed=seed, ablations=ablations, benchmark="crunchbase-2013",
         source=str(directory), attribution=ATTRIBUTION, readme=readme, section=section)


def _run(parsed: InvestmentEvents, cuts: list[Cut], *, json_out: Path | None, keep: bool, seed: int,
         ablations: bool, benchmark: str, source: str, attribution: str | None, readme: Path | None = None,
         section: str = "crunchbase") -> None:
    if parsed.errors:
        for e in parsed.errors[:MAX_SHOWN_PROBLEMS]:
            err_console.print(f"  row {e.row}: {e.field} = '{e.value}': {e.reason}", markup=False)
        fail(f"{len(parsed.errors)} bad row(s): fix them, the benchmark imports nothing with bad rows")
    t0 = time.perf_counter()
    snap = _import_and_read(parsed, keep=keep)
    import_seconds = time.perf_counter() - t0
    console.print(f"{len(snap.ev_time):,} investment events, {snap.n_enterprises:,} companies, "
                  f"{snap.n_investors:,} investors (imported into a scratch database and read back in "
                  f"{import_seconds:.1f} s)")
    s = settings()
    encoder = load_encoder(ensure_default_encoder(s))
    t1 = time.perf_counter()
    inputs = embed_inputs(s, snap, encoder, show_progress=True)
    embed_seconds = time.perf_counter() - t1
    config = replace(benchmark_config(), seed=seed)
    results: dict[str, Any] = {}
    for c in cuts:
        try:
            results[c.name] = run_cut(inputs, c, config, ablations=ablations, progress=console.print)
        except TrainingError as exc:
            fail(f"{c.name} cut: {exc}")
        _print_cut(c, results[c.name])
    total = time.perf_counter() - t0
    report = {
        "benchmark": benchmark, "source": source, "attribution": attribution, "protocol": PROTOCOL,
        "config_hash": config_hash(config), "config": asdict(config),
        "tuned_on": "validation cut only (benchmark_config is fixed in matching.learning.benchmark.protocol; "
                    "the served scorer is chosen on each cut's own validation window, before the cut)",
        "encoder_id": encoder.encoder_id,
        "import": {"rows_read": parsed.rows_read, "events": int(len(snap.ev_time)), "companies": snap.n_enterprises,
                   "investors": snap.n_investors, "skipped_rows": len(parsed.skipped),
                   "duplicate_rows": parsed.duplicates, "seconds": round(import_seconds, 2)},
        "ablations": list(ABLATIONS) if ablations else [],
        "cuts": results,
        "timings": {"import": round(import_seconds, 2), "embedding": round(embed_seconds, 2),
                    "total": round(total, 2)},
    }
    console.print(f"benchmark finished in {total:.0f} s (config {report['config_hash']})")
    if attribution:
        console.print(attribution, highlight=False)
    report = json_safe(report)
    if json_out:
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        console.print(f"metrics written to {json_out}")
    if readme:
        write_readme(report, readme, section)
        console.print(f"report written into {readme} (between the bench:{section} markers)")


def _import_and_read(parsed: InvestmentEvents, *, keep: bool) -> MarketSnapshot:
    batch = MarketBatch(enterprises=parsed.enterprises, investors=parsed.investors, events=parsed.events)
    with database(migrate=False) as main:
        try:
            with scratch_database(main.url, keep=keep) as scratch:
                save_batch(scratch, batch)
                if keep:
                    console.print(f"scratch database kept: {scratch.url}")
                with psycopg.connect(scratch.url) as conn:
                    return read_market(conn).snapshot()
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
                  f"{counts['enterprise_queries']:,} companies with a deal ({counts['cold_enterprise_queries']:,} "
                  f"never funded before)", highlight=False)
    for direction in DIRECTION_NAMES.values():
        d, label = result["directions"][direction], direction.replace("_to_", " → ")
        for subset in SUBSETS:
            rows = d["metrics"].get(subset) or {}
            if not rows:
                continue
            table = Table(title=f"{cut.name} · {label} · {subset} · serving {d['served_scorer']}",
                          title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
            table.add_column("scorer")
            for _, header in _COLUMNS:
                table.add_column(header, justify="right")
            table.add_column("95% CI", justify="right")
            table.add_column("queries", justify="right")
            for scorer, m in rows.items():
                ci = m.get("ci95", {}).get("ndcg@10", [float("nan")] * 2)
                table.add_row(scorer, *(f"{m[k]:.3f}" for k, _ in _COLUMNS), f"{ci[0]:.3f}–{ci[1]:.3f}",
                              f"{m['queries']:,}", style="bold" if scorer == d["served_scorer"] else None)
            console.print(table, width=160)


@app.command("syndicates")
def syndicates(
    directory: Path = typer.Argument(..., exists=True, file_okay=False, help="The CrunchBase 2013 export folder."),
    json_out: Path = typer.Option(None, "--json", dir_okay=False, help="Write every metric to this JSON file."),
    readme: Path = typer.Option(None, "--readme", dir_okay=False,
                                help="Write the table between the bench:syndicates markers of this README."),
    seed: int = typer.Option(0, "--seed", help="Seed of tie-breaks and training."),
    max_investors: int = typer.Option(0, "--max-investors", help="Thin data: keep the N most active investors."),
) -> None:
    """Real rounds with 2+ investors: given the first investor, rank the others (syndicate ranker vs baselines)."""
    import resource

    from training import syndicate_bench as sb

    try:
        parsed = read_crunchbase(directory)
    except FieldError as exc:
        fail(str(exc))
    if max_investors:
        from matching.learning.benchmark.thin import thin_events

        parsed = thin_events(parsed, max_investors=max_investors)
    t0 = time.perf_counter()
    snap = _import_and_read(parsed, keep=False)
    s = settings()
    encoder = load_encoder(ensure_default_encoder(s))
    inputs = embed_inputs(s, snap, encoder, show_progress=False)  # cached embeddings: no model trained for text
    config = replace(benchmark_config(), seed=seed)
    cuts = {c.name: c for c in CRUNCHBASE_CUTS}
    results: dict[str, Any] = {}
    try:
        listed = sb.listed_order(parsed.events)  # the lead: each round's first investor as the file lists it
        results["validation"] = sb.run_cut(inputs, cuts["validation"], config, listed=listed, progress=console.print)
        results["test"] = sb.run_cut(inputs, cuts["test"], config, lead_weight=results["validation"]["lead_weight"],
                                     listed=listed, progress=console.print)
    except TrainingError as exc:
        fail(str(exc))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB → GiB
    report = json_safe({"benchmark": "syndicates-crunchbase-2013", "source": str(directory),
                        "attribution": ATTRIBUTION, "protocol": sb.PROTOCOL, "encoder_id": encoder.encoder_id,
                        "config_hash": config_hash(config), "cuts": results, "peak_rss_gib": round(peak, 2),
                        "timings": {"total": round(time.perf_counter() - t0, 1)}})
    for name, cut in results.items():
        for subset in sb.SUBSETS:
            table = Table(title=f"syndicates · {name} · {subset}", title_justify="left", box=box.SIMPLE_HEAD)
            for col in ("scorer", "R@10", "NDCG@10", "95% CI", "queries"):
                table.add_column(col, justify="left" if col == "scorer" else "right")
            for scorer, m in cut["results"][subset]["metrics"].items():
                ci = m["ndcg@10_ci95"]
                table.add_row(scorer, f"{m['recall@10']:.3f}", f"{m['ndcg@10']:.3f}", f"{ci[0]:.3f}–{ci[1]:.3f}",
                              f"{m['queries']:,}")
            console.print(table)
    console.print(f"syndicate benchmark finished in {report['timings']['total']:.0f} s, peak {peak:.1f} GiB")
    console.print(ATTRIBUTION, highlight=False)
    if json_out:
        json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
        console.print(f"metrics written to {json_out}")
    if readme:
        from training.benchmark_report import replace_section

        replace_section(readme, "<!-- bench:syndicates:start -->", "<!-- bench:syndicates:end -->",
                        sb.markdown(report))
        console.print(f"report written into {readme} (between the bench:syndicates markers)")
