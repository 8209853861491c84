"""Bootstrap intervals over queries, per-query NDCG, and the promotion gate against the best baseline."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from matching.learning.intervals import bootstrap_ci, paired_bootstrap
from matching.learning.metrics import ndcg_at_k, ndcg_per_query
from matching.ranking.promotion import baseline_gate
from store.registry import ModelVersion


def test_per_query_ndcg_by_hand_and_its_mean_is_the_metric() -> None:
    y = np.array([0, 1, 0, 0, 1, 0])  # two queries of three rows, one positive each
    s = np.array([3.0, 2.0, 1.0, 1.0, 3.0, 2.0])
    per_q = ndcg_per_query(y, s, [3, 3], 10)
    # query 1: the positive at rank 2: (2^1-1)/log2(3) over ideal 1/log2(2); query 2: at rank 1
    np.testing.assert_allclose(per_q, [1 / np.log2(3), 1.0])
    assert ndcg_at_k(y, s, [3, 3], 10) == pytest.approx(per_q.mean())
    assert ndcg_per_query(np.zeros(3), s[:3], [3], 10).size == 0  # a query without positive is skipped


def test_bootstrap_interval_holds_the_mean_and_shrinks_with_more_queries() -> None:
    rng = np.random.default_rng(0)
    few, many = rng.random(50), rng.random(5000)
    lo_f, hi_f = bootstrap_ci(few)
    lo_m, hi_m = bootstrap_ci(many)
    assert lo_f < few.mean() < hi_f and lo_m < many.mean() < hi_m
    assert (hi_m - lo_m) < (hi_f - lo_f) / 5
    assert bootstrap_ci(np.full(20, 0.3)) == pytest.approx((0.3, 0.3))
    assert all(np.isnan(bootstrap_ci(np.zeros(0))))


def test_paired_bootstrap_sees_a_small_consistent_gain_that_unpaired_intervals_miss() -> None:
    rng = np.random.default_rng(1)
    hard = rng.random(300)  # queries differ a lot in difficulty
    a, b = hard + 0.02, hard
    paired = paired_bootstrap(a, b)
    assert paired["diff"] == pytest.approx(0.02) and paired["lo"] > 0 and paired["p_not_better"] == 0.0
    lo_a, _ = bootstrap_ci(a)
    _, hi_b = bootstrap_ci(b)
    assert lo_a < hi_b  # unpaired, the two intervals overlap
    with pytest.raises(ValueError, match="paired values differ in length: 3 and 2; give the same queries"):
        paired_bootstrap(np.zeros(3), np.zeros(2))


def _version(diff: float, lo: float, hi: float) -> ModelVersion:
    paired = {"subset": "new_pairs", "best_baseline": "affinity", "diff": diff, "lo": lo, "hi": hi}
    metrics = {"primary": 0.1, "best_baseline": {"name": "affinity", "primary": 0.12,
                                                 "directions": {"enterprise": paired}}}
    return ModelVersion("v9", "/nowhere", "candidate", datetime.now(UTC), None, {}, metrics)


def test_promotion_gate_refuses_a_served_scorer_worse_than_a_baseline_beyond_the_interval() -> None:
    refused = baseline_gate(_version(-0.02, -0.03, -0.01))
    assert not refused["ok"]
    assert refused["reason"] == ("version v9 serves a scorer worse than a baseline on the holdout window: enterprise: "
                                 "affinity by 0.0200 NDCG@10 on new_pairs (paired 95% interval of served minus "
                                 "baseline [-0.0300, -0.0100])")
    assert baseline_gate(_version(-0.003, -0.01, 0.004))["ok"]  # within the interval: noise, not worse
    assert baseline_gate(_version(0.0, 0.0, 0.0))["ok"]  # serving the baseline itself passes
