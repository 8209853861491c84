"""``capconnect train``, ``capconnect evaluate`` and ``capconnect models list|show|promote|rollback``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from cli.commands.common import console, database, fail, settings
from matching.errors import ArtifactError
from matching.ranking.bundle import METRICS, ModelBundle, json_safe
from matching.ranking.promotion import PromotionRefused, comparison
from store import registry
from training.pipeline import TrainConfig, TrainingError

app = typer.Typer(help="Model versions: list, show, promote, rollback.", no_args_is_help=True)
SHOWN = ("ndcg@10", "recall@10", "recall@20", "recall@100", "mrr", "auc", "mutual@10", "gini@10")
HEADER = ("NDCG@10", "R@10", "R@20", "R@100", "MRR", "AUC", "mutual@10", "Gini@10")


def _fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}"


def print_served(metrics: dict[str, Any]) -> None:
    """Which scorer each direction serves, and why (chosen on the validation window)."""
    for direction, choice in (metrics.get("served") or {}).items():
        console.print(f"{direction} direction serves [bold]{choice.get('name')}[/]: {choice.get('why', '')}",
                      highlight=False)
    best = metrics.get("best_baseline") or {}
    if best.get("name"):
        console.print(f"served primary {_fmt(metrics.get('primary'))} vs best baseline {best['name']} "
                      f"{_fmt(best.get('primary'))} (NDCG@10 on new pairs, holdout)", highlight=False)


def print_metrics(metrics: dict[str, Any], subset: str = "all") -> None:
    """One table per direction: every scorer's headline metrics."""
    for direction, dm in metrics.get("directions", {}).items():
        rows = dm.get("_rows", {})
        table = Table(title=f"{direction} direction, {subset} ({rows.get('queries', 0):,} queries, "
                            f"{rows.get('rows', 0):,} candidate rows)", title_justify="left")
        table.add_column("scorer", no_wrap=True, min_width=10)
        for c in HEADER:
            table.add_column(c, justify="right", no_wrap=True)
        for name, m in dm.items():
            if name.startswith("_") or subset not in m:
                continue
            style = "bold" if name == "served" else None
            table.add_row(name, *(_fmt(m[subset].get(c)) for c in SHOWN), style=style)
        console.print(table)


def train(
    seed: int = typer.Option(0, "--seed", help="Sampling and LightGBM seed (same data + seed: same metrics)."),
    version: str | None = typer.Option(None, "--version", help="Version name (default m<UTC timestamp>)."),
    valid_days: float = typer.Option(45.0, "--valid-days", help="Early-stopping / calibration window."),
    holdout_days: float = typer.Option(45.0, "--holdout-days", help="Window promotion is judged on."),
    promote_after: bool = typer.Option(False, "--promote", help="Promote when it beats the active version."),
    encoder: bool = typer.Option(False, "--encoder", help="Fine-tune the encoder on past positive pairs first."),
    dask_scheduler: str | None = typer.Option(
        None, "--dask-scheduler", help="Run the batch work (embedding, training rows, LambdaRank fits) on this Dask "
        "cluster, e.g. tcp://10.0.0.5:8786 (default: CAPCONNECT_DASK_SCHEDULER; unset: in this process)."),
) -> None:
    """Train both directions, evaluate beside the baselines, write models/<version>/ and register it."""
    from training.pipeline import train as run_train

    s = settings()
    if dask_scheduler:
        s = s.model_copy(update={"dask_scheduler": dask_scheduler})
    config = TrainConfig(seed=seed, valid_days=valid_days, holdout_days=holdout_days)
    with database() as db, db.connect(autocommit=True) as conn:
        try:
            if encoder:
                from training.finetune import finetune_encoder

                outcome = finetune_encoder(s, conn, seed=seed, config=config,
                                           progress=lambda m: console.print(f"· {m}"))
                console.print(outcome.summary())
            result = run_train(s, conn, seed=seed, version=version, config=config,
                               progress=lambda m: console.print(f"· {m}"))
        except (TrainingError, ValueError, ConnectionError) as exc:
            fail(str(exc))
        print_metrics(result.metrics)
        print_served(result.metrics)
        console.print(f"wrote [bold]{result.folder}[/] (report: {result.folder / 'report.md'})")
        if promote_after:
            try:
                registry.promote(conn, result.version)
                console.print(f"promoted {result.version}")
            except PromotionRefused as exc:
                console.print(f"[yellow]not promoted:[/] {exc}")
        else:
            console.print(f"next: `capconnect models promote {result.version}`")


def evaluate(
    version: str = typer.Argument(..., help="The version to evaluate."),
    against: str | None = typer.Option(None, "--against", help="Compare with this version (default: the active one)."),
    seed: int = typer.Option(0, "--seed"),
) -> None:
    """Re-evaluate a version on its holdout window beside the baselines and another version (by default
    the active one); the comparison is stored, so `models promote` can use it."""
    from training.evaluate import evaluate_version

    s = settings()
    with database() as db, db.connect(autocommit=True) as conn:
        try:
            metrics = evaluate_version(s, conn, version, against=against, seed=seed,
                                       progress=lambda m: console.print(f"· {m}"))
        except (PromotionRefused, TrainingError, ArtifactError) as exc:
            fail(str(exc))
    print_metrics(metrics)
    console.print(f"primary (mean NDCG@10): {version} {metrics['primary']:.4f}; "
                  f"{metrics['compare'].get('active_version') or '-'} {_fmt(metrics['compare'].get('active_primary'))}")


@app.command("list")
def list_versions(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every registered version, newest first, with its primary metric and status."""
    with database() as db, db.connect() as conn:
        versions = registry.list_versions(conn)
    if as_json:
        console.print_json(json.dumps(json_safe([{"version": v.version, "status": v.status,
                                                  "created_at": v.created_at, "activated_at": v.activated_at,
                                                  "primary": v.metrics.get("primary"), "path": v.path}
                                                 for v in versions])))
        return
    if not versions:
        console.print("no model versions yet: `capconnect train`")
        return
    table = Table(title="model versions", title_justify="left")
    for c in ("version", "status", "created", "activated", "NDCG@10", "affinity"):
        table.add_column(c, no_wrap=True)
    for v in versions:
        table.add_row(v.version, v.status, f"{v.created_at:%Y-%m-%d %H:%M}",
                      f"{v.activated_at:%Y-%m-%d %H:%M}" if v.activated_at else "", _fmt(v.metrics.get("primary")),
                      _fmt((v.metrics.get("baselines_primary") or {}).get("affinity")),
                      style="bold green" if v.status == "active" else None)
    console.print(table)


@app.command("show")
def show(version: str = typer.Argument(..., help="The version."),
         as_json: bool = typer.Option(False, "--json", help="Print the manifest and metrics as JSON.")) -> None:
    """A version's manifest summary, which scorer it serves and its metrics beside the baselines."""
    with database() as db, db.connect() as conn:
        mv = registry.get_version(conn, version)
    if mv is None:
        fail(f"no model version {version!r}; `capconnect models list` shows them")
    if as_json:
        print(json.dumps({"version": mv.version, "status": mv.status, "path": mv.path, "manifest": mv.manifest,
                          "metrics": mv.metrics}, ensure_ascii=False, indent=2, default=str))
        return
    m = mv.manifest
    console.print(f"[bold]{mv.version}[/] {mv.status}  path {mv.path}")
    console.print(f"encoder {m.get('encoder_id')}  code {m.get('code_version')}  seed {m.get('seed')}  "
                  f"windows {m.get('data_window')}")
    console.print(f"rows {json.dumps(m.get('rows'), ensure_ascii=False)}")
    metrics = mv.metrics
    path = Path(mv.path) / METRICS
    if path.exists():
        metrics = json.loads(path.read_text(encoding="utf-8"))
    print_served(metrics)
    print_metrics(metrics)
    print_metrics(metrics, "new_pairs")
    print_metrics(metrics, "cold_start")
    console.print(f"report: {Path(mv.path) / 'report.md'}")


@app.command("promote")
def promote_cmd(
    version: str = typer.Argument(..., help="The version to activate."),
    force: bool = typer.Option(False, "--force", help="Promote even if it does not beat the active version."),
) -> None:
    """Activate a version if it beats the active one on the same holdout rows (the service picks it up)."""
    with database() as db, db.connect(autocommit=True) as conn:
        try:
            active = registry.active_version(conn)
            cand = registry.get_version(conn, version)
            mv = registry.promote(conn, version, force=force)
        except PromotionRefused as exc:
            fail(str(exc))
    cmp = comparison(cand, active) if cand else {}
    console.print(f"[green]promoted[/] {mv.version} (was {active.version if active else 'none'}; "
                  f"primary {_fmt(cmp.get('candidate'))} vs {_fmt(cmp.get('active'))})")


@app.command("rollback")
def rollback_cmd(to: str | None = typer.Argument(None, help="Version to restore (default: the previous one).")) -> None:
    """Re-activate an earlier version (default: the one active before the current)."""
    with database() as db, db.connect(autocommit=True) as conn:
        try:
            before = registry.active_version(conn)
            mv = registry.rollback(conn, to)
        except PromotionRefused as exc:
            fail(str(exc))
    console.print(f"[green]active[/] {mv.version} (was {before.version if before else 'none'})")


@app.command("verify")
def verify(version: str = typer.Argument(..., help="The version.")) -> None:
    """Check a version's files against its manifest (checksums, features)."""
    with database() as db, db.connect() as conn:
        mv = registry.get_version(conn, version)
    if mv is None:
        fail(f"no model version {version!r}")
    try:
        ModelBundle.load(Path(mv.path))
    except ArtifactError as exc:
        fail(str(exc))
    console.print(f"{version}: every file matches the manifest")
