"""The learned ranker of the real-data benchmark: LightGBM LambdaRank, one model per direction.

Training never sees the evaluation window. For a cut at ``as_of`` the model learns from an *inner*
time split: features from events before ``as_of − label_days``, labels from
``[as_of − label_days, as_of)`` (the same protocol, one window earlier). Negatives are subsampled
per query (every positive kept) to keep training fast; evaluation always scores the full
candidate set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from matching.benchmark.candidates import Layout
from matching.benchmark.features import CATEGORICAL, FEATURE_NAMES, FeatureCube

logger = logging.getLogger(__name__)

#: LightGBM's LambdaRank refuses larger queries.
MAX_QUERY_ROWS = 10_000
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [10],
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 50,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "lambdarank_truncation_level": 30,
    "deterministic": True,
    "force_row_wise": True,
    # One thread: on a shared 2-core machine OpenMP's spin-waits made two threads slower, not faster.
    "num_threads": 1,
    "verbosity": -1,
}


@dataclass(frozen=True)
class ModelConfig:
    """How the benchmark's ranker is trained (tuned on the validation cut only).

    The defaults were chosen on the CrunchBase validation cut (train < 2012-01-01, window 2012), NDCG@10
    of both directions: 15 leaves beat 7 and 31, learning rate 0.1 × 150 rounds matched 0.05 × 300 at half
    the scoring time, 300 sampled negatives per query beat 100 and 1,000, and two inner windows
    (labels from each of the two years before the cut) beat one for investor → enterprise.

    Attributes:
        params: LightGBM parameters over :data:`DEFAULT_PARAMS`.
        num_boost_round: boosting rounds.
        negatives_per_query: negatives kept per training query (``None``: all).
        label_days: length of the inner label window before the cut.
        inner_windows: how many consecutive inner windows (each ``label_days`` long) to train on.
        features: the features used, in order.
    """

    params: dict[str, Any] = field(default_factory=dict)
    num_boost_round: int = 150
    negatives_per_query: int | None = 300
    label_days: int = 365
    inner_windows: int = 2
    features: tuple[str, ...] = FEATURE_NAMES

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in FEATURE_NAMES]
        if unknown:
            raise ValueError(f"features: unknown {', '.join(unknown)}; known: {', '.join(FEATURE_NAMES)}")
        if self.label_days < 1 or self.inner_windows < 1 or self.num_boost_round < 1:
            raise ValueError("label_days, inner_windows and num_boost_round must be >= 1")

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for the benchmark's report)."""
        return {"params": {**DEFAULT_PARAMS, **self.params}, "num_boost_round": self.num_boost_round,
                "negatives_per_query": self.negatives_per_query, "label_days": self.label_days,
                "inner_windows": self.inner_windows, "features": list(self.features)}


def sample_rows(lay: Layout, negatives: int | None, *, seed: int = 0) -> Layout:
    """Every positive and at most ``negatives`` random negatives per query (``None``: all rows).

    Queries larger than LightGBM's limit are always cut down to it.
    """
    cap = MAX_QUERY_ROWS - 1
    limit = cap if negatives is None else min(negatives, cap)
    if int(lay.group.max(initial=0)) <= limit:
        return lay
    rng = np.random.default_rng(seed)
    qid = np.repeat(np.arange(len(lay.group)), lay.group)
    key = rng.random(len(lay))
    key[lay.y > 0] = -1.0  # positives first
    order = np.lexsort((key, qid))
    starts = np.concatenate(([0], np.cumsum(lay.group)[:-1]))
    rank_in_query = np.empty(len(lay), dtype=np.int64)
    rank_in_query[order] = np.arange(len(lay)) - starts[qid[order]]
    n_pos = np.bincount(qid, weights=lay.y > 0, minlength=len(lay.group)).astype(np.int64)
    keep = rank_in_query < np.minimum(n_pos[qid] + limit, cap)
    return lay.select(keep)


@dataclass
class BenchmarkRanker:
    """A trained LambdaRank booster and the features it reads."""

    booster: lgb.Booster
    features: tuple[str, ...]

    def predict(self, cube: FeatureCube, lay: Layout, *, batch: int = 1_000_000) -> np.ndarray:
        """Scores of the rows of ``lay`` (higher is better), in batches to bound memory."""
        out = np.empty(len(lay), dtype=np.float64)
        for lo in range(0, len(lay), batch):
            hi = min(lo + batch, len(lay))
            X = cube.gather(lay.i[lo:hi], lay.j[lo:hi], self.features)
            out[lo:hi] = self.booster.predict(X)
        return out

    def importance(self) -> dict[str, float]:
        """Share of the total split gain per feature, largest first."""
        gain = self.booster.feature_importance(importance_type="gain")
        total = float(gain.sum()) or 1.0
        pairs = sorted(zip(self.features, gain, strict=True), key=lambda kv: -kv[1])
        return {name: float(g) / total for name, g in pairs}


def train_ranker(parts: list[tuple[FeatureCube, Layout]], config: ModelConfig, *, seed: int = 0) -> BenchmarkRanker:
    """Train one direction's ranker on the rows of one or more inner windows.

    Args:
        parts: ``(features, rows)`` of each inner window (rows are subsampled here).
        config: the training configuration.
        seed: seed of the subsampling and of LightGBM.

    Raises:
        ValueError: when no training query has a positive (too little history before the cut).
    """
    Xs, ys, groups = [], [], []
    for n, (cube, lay) in enumerate(parts):
        rows = sample_rows(lay, config.negatives_per_query, seed=seed + n)
        Xs.append(cube.gather(rows.i, rows.j, config.features))
        ys.append(rows.y)
        groups.append(rows.group)
    y = np.concatenate(ys) if ys else np.zeros(0)
    if not (y > 0).any():
        raise ValueError(
            "no training query has a positive: the inner window before the cut holds no investment by an "
            "eligible investor; move the cut later or shorten label_days"
        )
    params = {**DEFAULT_PARAMS, **config.params, "seed": seed}
    categorical = [f for f in CATEGORICAL if f in config.features]
    data = lgb.Dataset(np.concatenate(Xs), label=y, group=np.concatenate(groups), feature_name=list(config.features),
                       categorical_feature=categorical, params={"verbosity": -1})
    booster = lgb.train(params, data, num_boost_round=config.num_boost_round)
    logger.info("trained ranker on %d rows, %d queries", len(y), sum(len(g) for g in groups))
    return BenchmarkRanker(booster, config.features)
