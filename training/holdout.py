"""Scoring a window's evaluation sets: the ranker, the two-sided score, the served scorer and every baseline.

:func:`evaluate` is what promotion is judged on (``primary``: mean NDCG@10 on new pairs over both
directions), and what the real-data benchmark reports (:mod:`training.benchmark`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from matching.domain.sides import POSITIVE_GRADE, Side
from matching.learning.evaluation import (
    BASELINES,
    EvalSet,
    baseline_scores,
    build_eval_sets,
    evaluate_scores,
    per_query_ndcg,
    rules_fit,
)
from matching.learning.intervals import paired_bootstrap
from matching.ranking.selection import SELECTION_SUBSET, served_scores
from matching.ranking.twosided import TwoSidedScorer
from matching.snapshot.core import MarketSnapshot
from training.inputs import Inputs, TrainingError

#: Threads for scoring the holdout's millions of candidate rows (offline; serving predicts on one).
EVAL_THREADS = 2


def eval_sets(inputs: Inputs, window: tuple[float, float], seed: int = 0) -> dict[str, EvalSet]:
    """Full-candidate evaluation sets of both directions on one window."""
    return build_eval_sets(inputs.snap, tuple(Side), *window, ent_vecs=inputs.ent_vecs, man_vecs=inputs.man_vecs,
                           seed=seed)


#: Builds a window's full-candidate evaluation sets of both directions (default :func:`eval_sets`; the
#: real-data benchmark passes its protocol's candidate sets, :mod:`matching.learning.benchmark.adapter`).
EvalBuilder = Callable[[Inputs, tuple[float, float], int], dict[str, EvalSet]]


def model_scores(scorer: TwoSidedScorer, ev: EvalSet, *, snap: MarketSnapshot | None = None
                 ) -> dict[str, np.ndarray]:
    """The model's own-direction score, the two-sided score and the served scorer's, of each row."""
    direction = ev.data.direction
    threads = EVAL_THREADS if len(ev) >= 100_000 else 1
    own, two_sided = scorer.model_scores(direction, ev.data.X, num_threads=threads)
    choice = scorer.choices[direction]
    fit = rules_fit(snap, ev.data) if snap is not None and choice.baseline == "rules" else None
    served = served_scores(choice, direction, ev.data.X, lambda d, x: (own, two_sided), fit=fit)
    return {"model": own, "two_sided": two_sided, "served": served}


def primary_of(result: dict[str, Any], scorer: str) -> float:
    """A scorer's NDCG@10 on new pairs (else all pairs) of one direction's results: the served task."""
    entry = result[scorer]
    return float(entry.get(SELECTION_SUBSET, entry["all"])["ndcg@10"])


def evaluate(scorers: dict[str, TwoSidedScorer], inputs: Inputs, sets: dict[str, EvalSet], *, seed: int = 0,
             keep_scores: dict[str, dict[str, np.ndarray]] | None = None) -> dict[str, Any]:
    """Metrics per direction for the given models and every baseline, on the same rows.

    ``keep_scores``, when given, receives each direction's scores by scorer name (the report reuses them).

    Returns ``{direction: {scorer name: {subset: metrics}, "_served_scorer": name}, "primary": {name: value}}``
    where ``primary`` (mean NDCG@10 on new pairs over both directions, of each scorer and of
    ``served``, the served scorer) decides promotion.
    """
    out: dict[str, Any] = {}
    primary: dict[str, list[float]] = {}
    for direction, ev in sets.items():
        if len(ev) == 0:
            raise TrainingError(f"the {direction} evaluation window has no query with a positive event")
        scores: dict[str, np.ndarray] = {}
        served_name = ""
        for name, scorer in scorers.items():
            ms = model_scores(scorer, ev, snap=inputs.snap)
            if name == "model":
                scores["model"], scores["two_sided"] = ms["model"], ms["two_sided"]
                served_name = scorer.choices[direction].name
                scores["served"] = ms["served"]
            else:
                scores[name] = ms["served"]
        scores.update(baseline_scores(inputs.snap, ev.data, seed=seed))
        if served_name and served_name not in scores:
            scores[served_name] = scores["served"]
        out[direction] = evaluate_scores(ev, scores, seed=seed)
        out[direction]["_served_scorer"] = served_name
        if keep_scores is not None:
            keep_scores[direction] = scores
        out[direction]["_rows"] = {"queries": int(ev.data.n_queries), "rows": len(ev),
                                   "positives": int((ev.data.y >= POSITIVE_GRADE).sum()),
                                   "cold_rows": int(ev.cold.sum())}
        for name in scores:
            if out[direction][name]:
                primary.setdefault(name, []).append(primary_of(out[direction], name))
    out["primary"] = {name: float(np.mean(v)) for name, v in primary.items() if len(v) == len(sets)}
    return out


def versus_best_baseline(results: dict[str, Any], sets: dict[str, EvalSet], scores: dict[str, dict[str, np.ndarray]],
                         *, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per direction: the served scorer against that direction's best baseline on new pairs (else all
    pairs), a paired bootstrap over the same queries (what promotion's baseline gate reads)."""
    out: dict[str, dict[str, Any]] = {}
    for d, ev in sets.items():
        res, sc = results[d], scores.get(d, {})
        sub = SELECTION_SUBSET if SELECTION_SUBSET in res.get("served", {}) else "all"
        names = [b for b in BASELINES if b != "random" and sub in res.get(b, {}) and b in sc]
        if "served" not in sc or not names:
            continue
        best = max(names, key=lambda b: res[b][sub]["ndcg@10"])
        out[d] = {"subset": sub, "best_baseline": best,
                  **paired_bootstrap(per_query_ndcg(ev, sc["served"], sub, seed=seed),
                                     per_query_ndcg(ev, sc[best], sub, seed=seed), seed=seed)}
    return out
