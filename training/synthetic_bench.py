"""The served pipeline on the synthetic market: one-sided, two-sided and served scorers, and ablations.

``python -m training.synthetic_bench [--enterprises N --investors M --months K] [--readme README.md]``
generates a market, embeds it with the production encoder (cached), runs
:func:`training.pipeline.fit_and_evaluate` (what ``capconnect train`` runs), then the same with text
features masked, without the collaborative signal, and without history. It reports, per direction,
NDCG@10 on all and new pairs (with the bootstrap interval) and the mutual-match rate@10 of the ranker,
the two-sided score, the served scorer and the best baselines. The synthetic market is where the
enterprise side has its own decisions (``contact_accepted``, ``declined``), so it is where the
two-sided score can show what it is worth.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from matching.config import Settings
from matching.synth.generator import generate_market
from training.benchmark import ABLATIONS
from training.benchmark_report import replace_section
from training.pipeline import TrainConfig, fit_and_evaluate, inputs_from_market

START, END = "<!-- bench:synthetic:start -->", "<!-- bench:synthetic:end -->"
SCORERS = ("served", "model", "two_sided", "affinity", "popularity", "similarity", "rules",
           "incumbents_then_affinity")
TITLE = {"investor": "investor → enterprise (deal lists)", "enterprise": "enterprise → investor"}


def _f(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}"


def run(n_enterprises: int, n_investors: int, months: int, seed: int = 7) -> dict[str, Any]:
    """Train and evaluate the full pipeline and every ablation on one generated market."""
    t0 = time.perf_counter()
    market = generate_market(n_enterprises, n_investors, months, seed=seed)
    inputs = inputs_from_market(Settings(), market, show_progress=True)
    config = TrainConfig(seed=0)
    full = fit_and_evaluate(inputs, config, progress=print)
    out: dict[str, Any] = {"market": {"enterprises": n_enterprises, "investors": n_investors, "months": months,
                                      "seed": seed},
                           "served": {d: c.to_dict() for d, c in full.scorer.choices.items()},
                           "calibration": full.calibration, "directions": {}, "ablations": {}}
    for d in ("investor", "enterprise"):
        res = full.results[d]
        out["directions"][d] = {"served_scorer": res["_served_scorer"],
                                "metrics": {n: res[n] for n in SCORERS if n in res}}
    for name, drop in ABLATIONS.items():
        ab = fit_and_evaluate(inputs, replace(config, drop_features=drop), progress=print)
        out["ablations"][name] = {d: {"model": ab.results[d]["model"]["new_pairs"]["ndcg@10"],
                                      "served": ab.results[d]["served"]["new_pairs"]["ndcg@10"],
                                      "served_scorer": ab.results[d]["_served_scorer"]} for d in TITLE}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def markdown(r: dict[str, Any]) -> str:
    """README section of a run."""
    m = r["market"]
    lines = [f"Produced by `python -m training.synthetic_bench --enterprises {m['enterprises']} --investors "
             f"{m['investors']} --months {m['months']} --readme README.md` ({r['seconds']:.0f} s). Holdout: the "
             "last 45 days; the served scorer was chosen on the 45 days before.", ""]
    for d, title in TITLE.items():
        dd = r["directions"][d]
        lines += [f"**{title}**: serves `{dd['served_scorer']}` ({r['served'][d]['why']}).", "",
                  "| scorer | NDCG@10 all [95% CI] | NDCG@10 new pairs [95% CI] | mutual@10 all | R@20 all | AUC |",
                  "|---|---|---|---:|---:|---:|"]
        for n, ms in dd["metrics"].items():
            a, new = ms["all"], ms.get("new_pairs", {})
            ca, cn = a.get("ci95", {}).get("ndcg@10", [None] * 2), new.get("ci95", {}).get("ndcg@10", [None] * 2)
            lines.append(f"| {n} | {_f(a['ndcg@10'])} [{_f(ca[0])}, {_f(ca[1])}] | {_f(new.get('ndcg@10'))} "
                         f"[{_f(cn[0])}, {_f(cn[1])}] | {_f(a.get('mutual@10'))} | {_f(a.get('recall@20'))} | "
                         f"{_f(a.get('auc'))} |")
        lines.append("")
    lines += ["Ablations (NDCG@10 on new pairs of the retrained model / of what would serve):", "",
              "| ablation | " + " | ".join(TITLE.values()) + " |", "|---|---:|---:|"]
    for name, dirs in r["ablations"].items():
        lines.append(f"| {name} | " + " | ".join(f"{_f(dirs[d]['model'])} / {_f(dirs[d]['served'])} "
                                                  f"({dirs[d]['served_scorer']})" for d in TITLE) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--enterprises", type=int, default=1500)
    p.add_argument("--investors", type=int, default=200)
    p.add_argument("--months", type=int, default=18)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--readme", type=Path, default=None)
    a = p.parse_args(argv)
    r = run(a.enterprises, a.investors, a.months, a.seed)
    md = markdown(r)
    print(md)
    if a.readme:
        replace_section(a.readme, START, END, md)


if __name__ == "__main__":
    main()
