"""The benchmark protocol on one cut, and the CrunchBase 2013 cuts.

For a cut: build the candidate sets of the window after it, the point-in-time features as of the
cut, train one LambdaRank model per direction on inner windows before the cut, then score the
model and every baseline on the same rows and compute every metric of
:func:`matching.metrics.evaluate`, on all queries and on the cold-start subset (enterprise →
investor: queries whose company was never funded before the cut; investor → enterprise: the
candidate companies never funded before the cut).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

from matching import metrics
from matching.benchmark.baselines import BASELINES, baseline_scores
from matching.benchmark.candidates import DIRECTIONS, Candidates, Layout, build_candidates, layout
from matching.benchmark.deals import Cut, Deals, day_date, day_number
from matching.benchmark.features import FeatureCube, build_features
from matching.benchmark.model import ModelConfig, train_ranker

logger = logging.getLogger(__name__)

#: The CrunchBase 2013 protocol: tune on validation, report test once.
CRUNCHBASE_CUTS: tuple[Cut, ...] = (
    Cut("validation", date(2012, 1, 1), date(2013, 1, 1)),
    Cut("test", date(2013, 1, 1), date(2013, 10, 1)),
)
SCORERS: tuple[str, ...] = ("model", *BASELINES)
KS: tuple[int, ...] = (10, 20, 50, 100)
Progress = Callable[[str], None]


def progress_steps(config: ModelConfig) -> int:
    """How many times :func:`run_cut` calls ``progress`` (for a progress bar's total)."""
    return 1 + config.inner_windows + 2 * len(DIRECTIONS)


def _evaluate_all(lay: Layout, scores: dict[str, np.ndarray], seed: int) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {"all": {}, "cold_start": {}}
    cold = lay.select(lay.cold)
    for name, s in scores.items():
        out["all"][name] = metrics.evaluate(lay.y, s, lay.group, ks=KS, seed=seed)
        out["cold_start"][name] = (metrics.evaluate(cold.y, s[lay.cold], cold.group, ks=KS, seed=seed)
                                   if len(cold) else {})
    return out


def _counts(deals: Deals, cands: Candidates) -> dict[str, int]:
    past, win = deals.before(cands.as_of), deals.between(cands.as_of, cands.end)
    return {
        "events_before_cut": past.stop - past.start,
        "events_in_window": win.stop - win.start,
        "eligible_investors": len(cands.investors),
        "window_companies": len(cands.companies),
        "window_companies_cold": int(cands.cold.sum()),
        "positive_pairs": int(cands.label.sum()),
        "positive_pairs_in_portfolio": int((cands.label & cands.portfolio).sum()),
    }


def run_cut(deals: Deals, cut: Cut, config: ModelConfig | None = None, *, seed: int = 0,
            progress: Progress | None = None) -> dict[str, Any]:
    """Run the whole protocol on one cut.

    Args:
        deals: all events (the model and features only read those before the cut).
        cut: the cut and its window.
        config: how the model is trained (default :class:`ModelConfig`).
        seed: seed of tie-breaks, random baseline, subsampling and LightGBM.
        progress: called with a short label after each step.

    Returns:
        JSON-friendly ``{"cut", "counts", "directions": {direction: {"rows", "queries",
        "cold_queries", "training_candidate_rows", "metrics": {"all"|"cold_start": {scorer: metrics}},
        "feature_importance"}}, "timings"}``.

    Raises:
        ValueError: when the window holds no query with a positive, or the inner windows hold none.
    """
    config = config or ModelConfig()
    tick = progress or (lambda _label: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    start, end = day_number(cut.start), day_number(cut.end)
    cands = build_candidates(deals, start, end)
    if not cands.label.any():
        raise ValueError(
            f"cut {cut.start}: no eligible investor (>= 5 portfolio companies before the cut) invested in "
            f"[{cut.start}, {cut.end}); move the cut later or widen the window"
        )
    cube = build_features(deals, cands)
    timings["features"] = time.perf_counter() - t0
    tick(f"{cut.name}: features")

    t1 = time.perf_counter()
    inner: list[tuple[Candidates, FeatureCube]] = []
    for w in range(config.inner_windows):
        hi = start - w * config.label_days
        c = build_candidates(deals, hi - config.label_days, hi)
        inner.append((c, build_features(deals, c)))
        tick(f"{cut.name}: inner window {day_date(hi - config.label_days)}")
    timings["inner_features"] = time.perf_counter() - t1

    directions: dict[str, Any] = {}
    for direction in DIRECTIONS:
        t2 = time.perf_counter()
        parts = [(cu, layout(c, direction)) for c, cu in inner]
        ranker = train_ranker(parts, config, seed=seed)
        timings[f"train_{direction}"] = time.perf_counter() - t2
        tick(f"{cut.name}: trained {direction}")
        t3 = time.perf_counter()
        lay = layout(cands, direction)
        scores = {"model": ranker.predict(cube, lay), **baseline_scores(cube, lay, seed=seed)}
        directions[direction] = {
            "rows": len(lay),
            "queries": len(lay.group),
            "cold_queries": int(lay.query_cold.sum()),
            "training_candidate_rows": int(sum(len(p[1]) for p in parts)),  # before negative sampling
            "metrics": _evaluate_all(lay, scores, seed),
            "feature_importance": ranker.importance(),
        }
        timings[f"score_{direction}"] = time.perf_counter() - t3
        tick(f"{cut.name}: scored {direction}")
    timings["total"] = time.perf_counter() - t0
    return {"cut": cut.as_dict(), "counts": _counts(deals, cands), "directions": directions,
            "timings": {k: round(v, 2) for k, v in timings.items()}}
