"""LambdaRank on a Dask cluster: ``lightgbm.DaskLGBMRanker`` with the in-process ranker's parameters.

- **Partitions of whole queries**: the rows are cut at query boundaries
  (:func:`training.cluster.partition_bounds`), one partition per worker, and ``group`` is chunked
  with them, so no query is ever split between two workers (LambdaRank's gradients are per query).
- **Same parameters**: :data:`matching.ranking.ranker.DEFAULT_PARAMS`, the same seed and rounds, spelt as
  the scikit-learn names LightGBM's Dask estimator takes (so no alias is overridden by a default).
- **Same early stopping**: LightGBM's Dask estimator evaluates a validation set per worker on that
  worker's share only, so it cannot watch the whole window's NDCG@10. The fit runs in blocks of rounds
  (each continuing the last, ``init_model``); after each block the driver scores the validation window
  after each new round (one tree per round, summed) and asks
  :func:`matching.ranking.ranker.replay_early_stopping` whether the in-process rule would have stopped,
  and which round it keeps.
- **Same artifact**: the booster becomes a :class:`LambdaRanker` (:meth:`LambdaRanker.from_booster`),
  saved and served exactly like one fitted in process.

The model is not bit-identical to the in-process one: in data-parallel mode each worker builds
feature histograms and bins on its own rows, merged over the network, and bagging samples per
worker, so split thresholds and tie-breaks differ. Metrics agree within the stated tolerance
(``tests/test_dask_batch.py``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import lightgbm as lgb
import numpy as np
from distributed import Client

from matching.features.table import FEATURE_NAMES
from matching.learning import metrics
from matching.learning.dataset import RankingData
from matching.ranking.ranker import LambdaRanker, replay_early_stopping
from training.cluster import partition_bounds

logger = logging.getLogger(__name__)

#: LightGBM's parameter names in DEFAULT_PARAMS → the scikit-learn argument the Dask estimator takes.
_SKLEARN_NAMES = {"min_data_in_leaf": "min_child_samples", "feature_fraction": "colsample_bytree",
                  "bagging_fraction": "subsample", "bagging_freq": "subsample_freq", "lambda_l2": "reg_lambda",
                  "seed": "random_state"}


def estimator_params(params: dict[str, Any], num_boost_round: int) -> dict[str, Any]:
    """``params`` (LightGBM names) as ``DaskLGBMRanker`` arguments; ``num_threads`` is left to Dask
    (each worker uses its own thread count)."""
    out = {_SKLEARN_NAMES.get(k, k): v for k, v in params.items() if k not in ("num_threads", "n_jobs")}
    out["n_estimators"] = num_boost_round
    return out


def _to_dask(client: Client, data: RankingData, workers: list[str]) -> tuple[Any, Any, Any]:
    """``(X, y, group)`` as Dask arrays chunked together at query boundaries, partition ``i`` placed on
    ``workers[i]`` (scattered there): LightGBM trains each partition where it lies, and ranks the machines
    in partition order, so the same data on the same number of workers gives the same model (left to
    the scheduler, both partitions could land on one worker: one machine, another model)."""
    import dask.array as da

    cuts = partition_bounds(data.group, len(workers))
    ends = np.r_[0, np.cumsum(data.group)]
    X = np.ascontiguousarray(data.X, dtype=np.float32)
    y, group = np.asarray(data.y, dtype=np.float64), np.asarray(data.group, dtype=np.int64)
    xs, ys, gs = [], [], []
    for (a, b), worker in zip(zip(cuts[:-1], cuts[1:], strict=True), workers, strict=False):
        lo, hi = int(ends[a]), int(ends[b])
        fx, fy, fg = client.scatter([X[lo:hi], y[lo:hi], group[a:b]], workers=[worker], hash=False)
        xs.append(da.from_delayed(fx, shape=(hi - lo, X.shape[1]), dtype=X.dtype))
        ys.append(da.from_delayed(fy, shape=(hi - lo,), dtype=y.dtype))
        gs.append(da.from_delayed(fg, shape=(b - a,), dtype=group.dtype))
    return da.concatenate(xs), da.concatenate(ys), da.concatenate(gs)


def extend_curve(booster: lgb.Booster, valid: RankingData, scores: np.ndarray, curve: list[float], *,
                 k: int = 10) -> list[float]:
    """Append NDCG@k of ``valid`` (:func:`matching.learning.metrics.ndcg_at_k`) after each round of
    ``booster`` past ``len(curve)``; ``scores`` (valid's scores after those rounds) is updated in place.
    Each round's tree is predicted once and summed: the whole curve costs one full prediction."""
    X = np.asarray(valid.X, dtype=np.float32)
    for it in range(len(curve), booster.current_iteration()):
        scores += booster.predict(X, start_iteration=it, num_iteration=1)
        curve.append(metrics.ndcg_at_k(valid.y, scores, valid.group, k))
    return curve


def fit_ranker(client: Client, train: RankingData, valid: RankingData, *, seed: int, num_boost_round: int,
               parts: int | None = None, early_stopping_rounds: int = 30, min_boost_round: int = 50,
               block_rounds: int = 50) -> LambdaRanker:
    """One direction's LambdaRank model fitted by ``lightgbm.DaskLGBMRanker`` on the cluster.

    Args:
        client: the cluster.
        train, valid: training rows and the later validation window (as :meth:`LambdaRanker.fit`).
        seed: the LightGBM seed.
        num_boost_round: most rounds (the kept round is chosen on ``valid``).
        parts: partitions of whole queries (default: one per worker), placed on the workers in turn.
        early_stopping_rounds, min_boost_round: the in-process early stopping's patience and floor.
        block_rounds: rounds per Dask fit between two looks at the validation curve.

    Raises:
        ValueError: empty training data, or data built with another feature list.
    """
    from lightgbm.dask import DaskLGBMRanker

    if len(train) == 0:
        raise ValueError("training data is empty: widen the window or generate more history")
    if tuple(train.feature_names) != FEATURE_NAMES:
        raise ValueError("training data was built with another feature list: rebuild it")
    ranker = LambdaRanker(seed=seed)  # the in-process parameters, and their seed
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    if parts is not None:
        workers = [workers[i % len(workers)] for i in range(parts)]
    X, y, group = _to_dask(client, train, workers)
    t0 = time.perf_counter()
    booster: lgb.Booster | None = None
    curve: list[float] = []
    scores = np.zeros(len(valid), dtype=np.float64)
    best, stopped = 0, False
    while not stopped and (booster.current_iteration() if booster else 0) < num_boost_round:
        done = booster.current_iteration() if booster else 0
        rounds = min(block_rounds, num_boost_round - done) if len(valid) else num_boost_round
        model = DaskLGBMRanker(client=client, **estimator_params(ranker.params, rounds))
        model.fit(X, y, group=group, feature_name=list(FEATURE_NAMES), init_model=booster)
        booster = model.booster_
        if not len(valid):
            break
        extend_curve(booster, valid, scores, curve)
        best, stopped = replay_early_stopping(curve, patience=early_stopping_rounds, min_rounds=min_boost_round)
    assert booster is not None
    logger.info("Dask fit of the %s ranker: %d rows, %d queries, %d partitions, %d rounds, %.1f s", train.direction,
                len(train), train.n_queries, len(workers), booster.current_iteration(), time.perf_counter() - t0)
    return LambdaRanker.from_booster(booster, train.direction, params=ranker.params, seed=seed,
                                     best_iteration=best or booster.current_iteration(), valid_curve=curve)
