"""The real-data benchmark protocol on one cut: the production pipeline, the protocol's candidate sets, every subset.

For a cut ``[start, end)``, :func:`run_cut` calls :func:`training.pipeline.fit_and_evaluate` (what
``capconnect train`` runs: point-in-time training data, both LambdaRank rankers, calibration and the
two-sided weight on the validation window's full lists, the served-scorer choice) with validation
the ``valid_days`` before the cut and the protocol's candidate sets
(:func:`matching.learning.benchmark.adapter.protocol_sets`) as evaluation sets. The result follows the JSON
contract: per direction ``served_scorer`` and ``metrics.<subset>.<scorer>`` with a bootstrap 95 %
interval of NDCG@10, a paired bootstrap of the served scorer against the best baseline, buckets by
investor activity and by the company's earlier investors, and optional ablations.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any

import numpy as np

from matching.domain.sides import POSITIVE_GRADE
from matching.features.table import features_hash
from matching.learning.benchmark.adapter import MIN_PORTFOLIO, counts, protocol_sets
from matching.learning.evaluation import BASELINES, SUBSETS, EvalSet, per_query_ndcg, subset
from matching.learning.intervals import bootstrap_ci, paired_bootstrap
from matching.learning.metrics import ndcg_at_k
from matching.snapshot.core import to_days
from training.pipeline import Inputs, TrainConfig, fit_and_evaluate, windows_at


@dataclass(frozen=True)
class Cut:
    """A time split: train on events before ``start``, evaluate on ``start <= day < end``."""

    name: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"end must be after the cut: cut {self.start}, end {self.end}")

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly form."""
        return {"name": self.name, "train_before": self.start.isoformat(), "window_start": self.start.isoformat(),
                "window_end_exclusive": self.end.isoformat()}

    def window(self) -> tuple[float, float]:
        """``[start, end)`` in days since the epoch (the snapshot's time axis)."""
        return (to_days(datetime(self.start.year, self.start.month, self.start.day)),
                to_days(datetime(self.end.year, self.end.month, self.end.day)))


#: The CrunchBase 2013 protocol: tune on validation, report test once.
CRUNCHBASE_CUTS: tuple[Cut, ...] = (
    Cut("validation", date(2012, 1, 1), date(2013, 1, 1)),
    Cut("test", date(2013, 1, 1), date(2013, 10, 1)),
)
#: Production direction → the protocol's name.
DIRECTION_NAMES: dict[str, str] = {"enterprise": "enterprise_to_investor", "investor": "investor_to_enterprise"}
PROTOCOL = (
    "unit: distinct (investor, company) pairs; train on events before the cut (validation: the valid_days before "
    "it), evaluate on [cut, end); enterprise->investor: each company funded in the window ranks every investor "
    f"with >= {MIN_PORTFOLIO} portfolio companies before the cut; investor->enterprise: each such investor ranks "
    "every company funded in the window except its portfolio; subsets: all, new_pairs (the company's earlier "
    "investors removed from candidates and positives), follow_on, cold_start (company never funded before); "
    "metrics over the full candidate set; 95% intervals: bootstrap over queries (1,000 resamples)"
)
#: Ablations: features masked (missing) in training and evaluation.
ABLATIONS: dict[str, tuple[str, ...]] = {
    "no_text": ("semantic_sim", "portfolio_sim"),
    "no_collaborative": ("collab_score",),
    "no_history": ("sector_share", "region_share", "stage_share", "inv_positives", "inv_activity_90d",
                   "inv_invested_365d", "inv_capacity_left", "ent_exposure_30d", "ent_popularity",
                   "pair_prior_engagement", "affinity", "portfolio_sim", "collab_score"),
}
#: Investor activity buckets (portfolio companies before the cut) and the company's earlier investors.
ACTIVITY_BUCKETS: tuple[tuple[str, float, float], ...] = (("5-9", 5, 10), ("10-24", 10, 25), ("25-59", 25, 60),
                                                        ("60+", 60, np.inf))
PRIOR_BUCKETS: tuple[tuple[str, float, float], ...] = (("none (cold)", 0, 1), ("1-2", 1, 3), ("3-5", 3, 6),
                                                     ("6+", 6, np.inf))
Progress = Callable[[str], None]


def benchmark_config() -> TrainConfig:
    """The benchmark's training configuration (fixed; changed only after looking at the validation cut)."""
    return TrainConfig(valid_days=120.0, holdout_days=0.0, train_days=730.0, new_pairs_only=True)


def config_hash(config: TrainConfig) -> str:
    """A short hash of everything that decides the numbers: configuration, features, protocol."""
    text = json.dumps({"config": asdict(config), "features": features_hash(), "protocol": PROTOCOL}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _builder(inputs: Inputs, window: tuple[float, float], seed: int) -> dict[str, EvalSet]:
    return protocol_sets(inputs.snap, window, ent_vecs=inputs.ent_vecs, man_vecs=inputs.man_vecs)


def _buckets(ev: EvalSet, scores: dict[str, np.ndarray], names: list[str], seed: int) -> dict[str, Any]:
    data = ev.data
    if data.direction == "investor":
        value, spec, what = data.column("inv_positives"), ACTIVITY_BUCKETS, "investor portfolio companies"
    else:
        value, spec, what = data.column("ent_popularity"), PRIOR_BUCKETS, "company's earlier investors"
    value = np.nan_to_num(value.astype(np.float64), nan=0.0)
    out: dict[str, Any] = {"by": what}
    for label, lo, hi in spec:
        m = (value >= lo) & (value < hi)
        if not (m & (data.y >= POSITIVE_GRADE)).any():
            continue
        part = subset(data, m)
        out[label] = {n: ndcg_at_k(part.y, scores[n][m], part.group, 10, seed=seed) for n in names} | {
            "queries": int(len(np.unique(part.qid[part.y >= 3])))}
    return out


def _direction(fitted: Any, direction: str, seed: int) -> dict[str, Any]:
    ev, res, scores = fitted.sets[direction], fitted.results[direction], fitted.scores[direction]
    served = res["_served_scorer"]
    names = [n for n in res if not n.startswith("_") and n not in ("served", "active")]
    metrics = {sub: {n: res[n][sub] for n in names if sub in res[n]} for sub in SUBSETS}
    paired = {}
    for sub in SUBSETS:
        present = [b for b in BASELINES if b != "random" and sub in res[b]]
        if not present or sub not in res["served"]:
            continue
        best = max(present, key=lambda b: res[b][sub]["ndcg@10"])
        a = per_query_ndcg(ev, scores["served"], sub, seed=seed)
        b = per_query_ndcg(ev, scores[best], sub, seed=seed)
        paired[sub] = {"best_baseline": best, **paired_bootstrap(a, b, seed=seed),
                       "served_ci95": list(bootstrap_ci(a, seed=seed))}
    return {"served_scorer": served, "choice": fitted.scorer.choices[direction].to_dict(),
            "rows": res["_rows"], "metrics": metrics, "paired_vs_best_baseline": paired,
            "buckets": _buckets(ev, scores, [served if served in scores else "served", "model", "affinity",
                                             "popularity"], seed)}


def run_cut(inputs: Inputs, cut: Cut, config: TrainConfig, *, ablations: bool = False,
            progress: Progress | None = None) -> dict[str, Any]:
    """Run the production pipeline on one cut and report it in the JSON contract's shape.

    Raises:
        TrainingError: too little history before the cut, or no query with a positive.
    """
    t0 = time.perf_counter()
    window = cut.window()
    wins = windows_at(inputs.snap, config, window)
    fitted = fit_and_evaluate(inputs, config, wins=wins, eval_builder=_builder, progress=progress)
    out: dict[str, Any] = {
        "cut": cut.as_dict(),
        "windows_days": {k: [float(a), float(b)] for k, (a, b) in wins.items()},
        "counts": counts(inputs.snap, window, fitted.sets),
        "training_rows": {d: {k: len(v) for k, v in fitted.data[d].items()} for d in fitted.data},
        "calibration": fitted.calibration,
        "directions": {DIRECTION_NAMES[d]: _direction(fitted, d, config.seed) for d in DIRECTION_NAMES},
    }
    if ablations:
        out["ablations"] = {}
        for name, drop in ABLATIONS.items():
            cfg = replace(config, drop_features=drop)
            ab = fit_and_evaluate(inputs, cfg, wins=wins, eval_builder=_builder, progress=progress)
            out["ablations"][name] = {
                DIRECTION_NAMES[d]: {sub: {"model": ab.results[d]["model"][sub]["ndcg@10"],
                                           "served": ab.results[d]["served"][sub]["ndcg@10"],
                                           "served_scorer": ab.results[d]["_served_scorer"]}
                                     for sub in SUBSETS if sub in ab.results[d]["model"]}
                for d in DIRECTION_NAMES}
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out
