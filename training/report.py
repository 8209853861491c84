"""``report.md`` and its PNG plots for a model version: why this model is (or is not) better.

Figures are drawn with matplotlib's object API (``Figure``), never ``pyplot``: writing a report
changes no global backend, so it works the same in a notebook with inline plots.

Plots: recall by k for the model and every baseline, feature importance, NDCG@10 by investor type,
enterprise tier and district, and the Lorenz curve of enterprise exposure in the top 10.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from matching.domain.sides import Side
from matching.learning.evaluation import BASELINE_MEANING, KS, EvalSet, baseline_scores, exposure_counts, ndcg_by
from matching.learning.exposure import gini, lorenz
from matching.ranking.ranker import LambdaRanker
from matching.ranking.twosided import TwoSidedScorer

TITLE = {"investor": "investor → enterprises (deal lists)", "enterprise": "enterprise → investors (suggested funds)"}
COLUMNS = ("ndcg@10", "recall@10", "recall@20", "recall@50", "recall@100", "mrr", "auc", "mutual@10",
           "coverage@10", "gini@10")


def _fmt(v: Any) -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.3f}"


def metrics_table(direction_metrics: dict[str, Any], subset: str = "all") -> str:
    """A Markdown table: one row per scorer (model first), :data:`COLUMNS` as columns."""
    names = [n for n in direction_metrics if not n.startswith("_") and subset in direction_metrics[n]]
    lines = ["| scorer | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for n in names:
        m = direction_metrics[n][subset]
        lines.append(f"| {n} | " + " | ".join(_fmt(m.get(c)) for c in COLUMNS) + " |")
    return "\n".join(lines)


def _plot_recall(folder: Path, metrics: dict[str, Any]) -> str:
    fig = Figure(figsize=(11, 4))
    axes = fig.subplots(1, 2)
    for ax, d in zip(axes, tuple(Side), strict=True):
        dm = metrics["directions"][d]
        for name in [n for n in dm if not n.startswith("_")]:
            ys = [dm[name]["all"].get(f"recall@{k}") for k in KS]
            ax.plot(KS, ys, marker="o", label=name, linewidth=2.5 if name == "model" else 1.2)
        ax.set_xscale("log")
        ax.set_xticks(KS, [str(k) for k in KS])
        ax.set_xlabel("k")
        ax.set_ylabel("Recall@k")
        ax.set_title(TITLE[d], fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "plots" / "recall_by_k.png", dpi=110)
    return "plots/recall_by_k.png"


def _plot_importance(folder: Path, rankers: dict[str, LambdaRanker], top: int = 20) -> str:
    fig = Figure(figsize=(12, 6))
    axes = fig.subplots(1, 2)
    for ax, d in zip(axes, tuple(Side), strict=True):
        imp = rankers[d].feature_importance()
        items = sorted(imp.items(), key=lambda kv: kv[1], reverse=True)[:top][::-1]
        total = sum(imp.values()) or 1.0
        ax.barh([k for k, _ in items], [v / total for _, v in items], color="#3b6ea5")
        ax.set_xlabel("share of total gain")
        ax.set_title(TITLE[d], fontsize=10)
    fig.tight_layout()
    fig.savefig(folder / "plots" / "feature_importance.png", dpi=110)
    return "plots/feature_importance.png"


def _plot_groups(folder: Path, inputs: Any, sets: dict[str, EvalSet], own: dict[str, np.ndarray],
                 base: dict[str, dict[str, np.ndarray]], seed: int) -> tuple[str, dict[str, Any]]:
    panels = [("investor", "investor_type"), ("enterprise", "tier"), ("enterprise", "district")]
    fig = Figure(figsize=(16, 4.5))
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 0.6, 2]})
    table: dict[str, Any] = {}
    for ax, (d, attr) in zip(axes, panels, strict=True):
        model = ndcg_by(inputs.snap, sets[d], own[d], attr, seed=seed)
        aff = ndcg_by(inputs.snap, sets[d], base[d]["affinity"], attr, seed=seed)
        keys = list(model)
        x = np.arange(len(keys))
        ax.bar(x - 0.2, [model[k] for k in keys], 0.4, label="model", color="#3b6ea5")
        ax.bar(x + 0.2, [aff[k] for k in keys], 0.4, label="affinity", color="#c9a227")
        ax.set_xticks(x, keys, rotation=60 if len(keys) > 6 else 0, fontsize=7)
        ax.set_ylabel("NDCG@10")
        ax.set_title(f"{attr} ({d} direction)", fontsize=10)
        table[attr] = {"model": model, "affinity": aff}
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "plots" / "ndcg_by_group.png", dpi=110)
    return "plots/ndcg_by_group.png", table


def _plot_lorenz(folder: Path, ev: EvalSet, scores: dict[str, np.ndarray], seed: int) -> tuple[str, dict[str, float]]:
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="equal exposure")
    ginis = {}
    for name, s in scores.items():
        counts = exposure_counts(ev, s, k=10, seed=seed)
        x, y = lorenz(counts)
        ginis[name] = gini(counts)
        ax.plot(x, y, label=f"{name} (Gini {ginis[name]:.2f})", linewidth=2.5 if name == "model" else 1.2)
    ax.set_xlabel("share of enterprises (least exposed first)")
    ax.set_ylabel("share of top-10 slots")
    ax.set_title("Lorenz curve of enterprise exposure", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(folder / "plots" / "lorenz_exposure.png", dpi=110)
    return "plots/lorenz_exposure.png", ginis


def write_report(folder: Path, metrics: dict[str, Any], *, inputs: Any, sets: dict[str, EvalSet],
                 scorer: TwoSidedScorer, rankers: dict[str, LambdaRanker], seed: int = 0,
                 scores: dict[str, dict[str, np.ndarray]] | None = None) -> Path:
    """Write ``report.md`` and ``plots/*.png`` into ``folder``; returns the report path.

    ``scores`` (``{direction: {scorer: scores}}`` from the evaluation, with ``model`` and every
    baseline) saves scoring the holdout rows a second time.
    """
    (folder / "plots").mkdir(parents=True, exist_ok=True)
    scores = scores or {}
    own = {d: scores[d]["model"] if "model" in scores.get(d, {}) else rankers[d].predict(sets[d].data.X)
           for d in tuple(Side)}
    base = {d: scores[d] if "affinity" in scores.get(d, {}) else baseline_scores(inputs.snap, sets[d].data, seed=seed)
            for d in tuple(Side)}
    recall_png = _plot_recall(folder, metrics)
    imp_png = _plot_importance(folder, rankers)
    groups_png, groups = _plot_groups(folder, inputs, sets, own, base, seed)
    inv = sets["investor"]
    lorenz_png, ginis = _plot_lorenz(folder, inv, {"model": own["investor"], **{
        k: base["investor"][k] for k in ("affinity", "popularity", "similarity", "random")}}, seed)
    cmp = metrics.get("compare", {})
    lines = [
        f"# Model version `{metrics['version']}`", "",
        f"Primary metric ({metrics['primary_metric']}): **{metrics['primary']:.4f}**.", "",
    ]
    if cmp.get("comparable"):
        lines.append(f"Active version `{cmp['active_version']}` on the same rows: {cmp['active_primary']:.4f}.")
    else:
        lines.append(f"No comparison with an active version ({cmp.get('reason') or 'none'}).")
    lines += ["", "Baselines (same rows): " + "; ".join(f"**{k}**: {v}" for k, v in BASELINE_MEANING.items()) + ".",
              "`two_sided` combines both directions' calibrated probabilities; `served` is the scorer each "
              "direction serves, chosen on the validation window (below).", ""]
    for d in tuple(Side):
        choice = metrics.get("served", {}).get(d, {})
        lines.append(f"- {TITLE[d]}: serves **{choice.get('name', '–')}**: {choice.get('why', '')}")
    lines.append("")
    for d in tuple(Side):
        dm = metrics["directions"][d]
        rows = dm.get("_rows", {})
        lines += [f"## {TITLE[d]}", "",
                  f"Holdout: {rows.get('queries', 0):,} queries, {rows.get('rows', 0):,} candidate rows "
                  f"(every eligible candidate), {rows.get('positives', 0):,} positives (grade ≥ 3).", "",
                  metrics_table(dm), ""]
        if any("cold_start" in dm[n] for n in dm if not n.startswith("_")):
            lines += ["Cold start (enterprises without any funnel event before the holdout):", "",
                      metrics_table(dm, "cold_start"), ""]
    lines += ["## Plots", "", f"![recall by k]({recall_png})", "", f"![feature importance]({imp_png})", "",
              f"![NDCG by group]({groups_png})", "", f"![Lorenz curve]({lorenz_png})", "",
              "Gini of enterprise exposure in the top 10 (investor direction): "
              + ", ".join(f"{k} {v:.3f}" for k, v in ginis.items()) + ".", "",
              "## NDCG@10 by group (model vs affinity)", ""]
    for attr, t in groups.items():
        lines += [f"**{attr}**: " + ", ".join(f"{k} {_fmt(v)} / {_fmt(t['affinity'].get(k))}"
                                              for k, v in t["model"].items()), ""]
    lines += ["## Training", "", f"Fit seconds: {metrics.get('fit_seconds')}.", ""]
    path = folder / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
