"""Ranking metrics: hand-computed answers on tiny cases, tie handling, a naive cross-check, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from matching.learning.exposure import coverage, gini, lorenz
from matching.learning.metrics import (
    auc,
    evaluate,
    mrr,
    mutual_match_rate,
    ndcg_at_k,
    rank_order,
    recall_at_k,
    top_k_items,
)

# Two queries plus one with no positive (it must be skipped by every metric that needs one).
#
# Query A (4 rows): scores 0.9 0.8 0.3 0.1, labels 0 1 0 1 -> ranked order: row0 row1 row2 row3,
#   positives at ranks 2 and 4.
#   recall@2 = 1/2; MRR = 1/2; AUC: pairs (pos 0.8, 0.1) x (neg 0.9, 0.3): only 0.8 > 0.3 -> 1/4.
#   NDCG@3 (gain 2^1-1 = 1): DCG = 1/log2(3); IDCG = 1 + 1/log2(3).
# Query B (3 rows): scores 0.2 0.5 0.4, labels 2 0 1 -> ranked: row1 (y0), row2 (y1), row0 (y2).
#   positives (y >= 1): rows 0 and 2; recall@2 = 1/2; MRR = 1/2; AUC: 0.2, 0.4 vs 0.5 -> 0.
#   NDCG@3: gains 3 (y2) and 1 (y1). DCG = 1/log2(3) + 3/log2(4); IDCG = 3 + 1/log2(3).
# Query C (2 rows): labels 0 0 -> no positive, skipped.
Y = np.array([0, 1, 0, 1, 2, 0, 1, 0, 0])
S = np.array([0.9, 0.8, 0.3, 0.1, 0.2, 0.5, 0.4, 1.0, 2.0])
G = [4, 3, 2]
L3 = math.log2(3)
NDCG3_A = (1 / L3) / (1 + 1 / L3)
NDCG3_B = (1 / L3 + 3 / 2) / (3 + 1 / L3)


def test_hand_computed_two_query_example() -> None:
    assert recall_at_k(Y, S, G, 2) == pytest.approx(0.5)
    assert recall_at_k(Y, S, G, 3) == pytest.approx((1 / 2 + 2 / 2) / 2)  # B's row0 is 3rd
    assert mrr(Y, S, G) == pytest.approx(0.5)
    assert auc(Y, S, G) == pytest.approx((0.25 + 0.0) / 2)
    assert ndcg_at_k(Y, S, G, 3) == pytest.approx((NDCG3_A + NDCG3_B) / 2)


def test_positive_threshold_changes_which_rows_count() -> None:
    # With positive=2 only B's row0 (label 2, ranked 3rd) counts; A has none and is skipped.
    assert recall_at_k(Y, S, G, 2, positive=2) == pytest.approx(0.0)
    assert recall_at_k(Y, S, G, 3, positive=2) == pytest.approx(1.0)
    assert mrr(Y, S, G, positive=2) == pytest.approx(1 / 3)
    assert auc(Y, S, G, positive=2) == pytest.approx(0.0)  # 0.2 is below 0.5 and 0.4


def test_auc_counts_ties_as_half() -> None:
    # One positive tied with one negative and above another: (0.5 + 1) / 2.
    assert auc([1, 0, 0], [0.5, 0.5, 0.1], [3]) == pytest.approx(0.75)


def test_evaluate_matches_the_single_metrics() -> None:
    out = evaluate(Y, S, G, ks=(1, 2, 3))
    assert set(out) == {"recall@1", "recall@2", "recall@3", "ndcg@10", "mrr", "auc", "queries"}
    assert out["recall@2"] == pytest.approx(recall_at_k(Y, S, G, 2))
    assert out["recall@1"] == pytest.approx(0.0)
    assert out["ndcg@10"] == pytest.approx(ndcg_at_k(Y, S, G, 10))
    assert out["mrr"] == pytest.approx(0.5)
    assert out["auc"] == pytest.approx(0.125)
    assert out["queries"] == 2
    assert set(evaluate(Y, S, G)) == {
        "recall@10",
        "recall@20",
        "recall@50",
        "recall@100",
        "ndcg@10",
        "mrr",
        "auc",
        "queries",
    }


def test_no_positive_anywhere_gives_nan() -> None:
    out = evaluate([0, 0, 0], [1.0, 2.0, 3.0], [3])
    assert math.isnan(out["recall@10"]) and math.isnan(out["mrr"]) and math.isnan(out["auc"])
    assert math.isnan(out["ndcg@10"])
    assert out["queries"] == 0


def _naive(y: np.ndarray, s: np.ndarray, group: list[int], k: int) -> tuple[float, float, float, float]:
    recalls, ndcgs, rrs, aucs = [], [], [], []
    start = 0
    for size in group:
        yy, ss = y[start : start + size], s[start : start + size]
        start += size
        order = np.argsort(-ss)
        pos = yy >= 1
        if pos.any():
            recalls.append(pos[order][:k].sum() / pos.sum())
            rrs.append(1 / (np.flatnonzero(pos[order])[0] + 1))
        gains = 2.0**yy - 1
        dcg = sum(gains[order][i] / math.log2(i + 2) for i in range(min(k, size)))
        idcg = sum(np.sort(gains)[::-1][i] / math.log2(i + 2) for i in range(min(k, size)))
        if idcg > 0:
            ndcgs.append(dcg / idcg)
        if pos.any() and (~pos).any():
            aucs.append(np.mean([(p > n) + 0.5 * (p == n) for p in ss[pos] for n in ss[~pos]]))
    return float(np.mean(recalls)), float(np.mean(ndcgs)), float(np.mean(rrs)), float(np.mean(aucs))


def test_vectorised_metrics_agree_with_a_naive_loop() -> None:
    rng = np.random.default_rng(7)
    group = list(rng.integers(1, 30, size=40))
    n = sum(group)
    y = rng.choice([0, 0, 0, 0, 1, 2, 5], size=n)
    s = rng.normal(size=n)  # continuous: no ties, so the naive argsort is the same ranking
    r, nd, m, a = _naive(y, s, group, 10)
    assert recall_at_k(y, s, group, 10) == pytest.approx(r)
    assert ndcg_at_k(y, s, group, 10) == pytest.approx(nd)
    assert mrr(y, s, group) == pytest.approx(m)
    assert auc(y, s, group) == pytest.approx(a)


def test_rank_order_breaks_ties_by_seed() -> None:
    scores = np.array([1.0, 3.0, 3.0, 2.0])
    firsts = set()
    for seed in range(20):
        order = rank_order(scores, seed=seed)
        assert set(order[:2]) == {1, 2} and list(order[2:]) == [3, 0]
        assert np.array_equal(order, rank_order(scores, seed=seed))
        firsts.add(int(order[0]))
    assert firsts == {1, 2}  # both tied rows come first for some seed


def test_constant_scores_behave_like_random_order() -> None:
    # 200 queries of 20 rows, 2 positives each, constant scores.
    group = [20] * 200
    y = np.tile(np.r_[1, 1, np.zeros(18, dtype=int)], 200)
    s = np.zeros(y.size)
    assert recall_at_k(y, s, group, 5, seed=3) == recall_at_k(y, s, group, 5, seed=3)
    assert recall_at_k(y, s, group, 5, seed=3) != recall_at_k(y, s, group, 5, seed=4)
    mean_recall = np.mean([recall_at_k(y, s, group, 5, seed=seed) for seed in range(10)])
    assert mean_recall == pytest.approx(5 / 20, abs=0.02)  # analytic: k / n
    # First of 2 positives among 20: P(first at rank r) = 2 (20 - r) / (20 * 19).
    expected_mrr = sum(2 * (20 - r) / (20 * 19) / r for r in range(1, 20))
    mean_mrr = np.mean([mrr(y, s, group, seed=seed) for seed in range(10)])
    assert mean_mrr == pytest.approx(expected_mrr, abs=0.02)
    assert auc(y, s, group) == pytest.approx(0.5)  # ties count half, exactly


def test_mutual_match_rate_counts_head_slots() -> None:
    # Query A (4 rows, k=2): head rows 0, 1 -> one mutual (row1). Query B (1 row): its only slot is mutual.
    mutual = np.array([False, True, True, False, True])
    scores = np.array([0.9, 0.8, 0.3, 0.1, 0.5])
    assert mutual_match_rate(mutual, scores, [4, 1], 2) == pytest.approx(2 / 3)


def test_top_k_items_lists_each_heads_items_in_order() -> None:
    items = np.array([10, 11, 12, 13, 20, 21, 22])
    scores = np.array([0.1, 0.9, 0.5, 0.3, 0.2, 0.45, 0.4])
    assert top_k_items(items, scores, [4, 3], 2).tolist() == [11, 12, 21, 22]
    assert top_k_items(items, scores, [1, 6], 2).tolist() == [10, 11, 12]


def test_gini_known_answers() -> None:
    assert gini(np.array([1, 1, 1, 1])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)  # one of n items: (n - 1) / n
    assert gini(np.array([4, 0, 0, 0])) == pytest.approx(0.75)
    assert gini(np.array([1, 2, 3])) == pytest.approx(8 / 36)  # sum |xi - xj| = 8 over 2 n^2 mean = 36
    assert gini(np.zeros(5)) == 0.0


def test_lorenz_endpoints_and_shape() -> None:
    x, y = lorenz(np.array([0, 4, 0, 0]))
    assert x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert y.tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    x, y = lorenz(np.array([3, 1]))
    assert y.tolist() == [0.0, 0.25, 1.0]
    x, y = lorenz(np.zeros(3))
    assert np.allclose(x, y) and x[0] == 0.0 and y[-1] == 1.0


def test_coverage() -> None:
    assert coverage(np.array([3, 3, 5]), 4) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"^catalogue_size must be >= 1, got 0$"):
        coverage(np.array([1]), 0)
    with pytest.raises(ValueError, match=r"holds 3 distinct ids but catalogue_size is 2"):
        coverage(np.array([1, 2, 3]), 2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: recall_at_k([1, 0], [0.1], [2], 1), "y has 2 rows but scores has 1; they must have the same length"),
        (
            lambda: recall_at_k([1, 0], [0.1, 0.2], [3], 1),
            "group sums to 3 but there are 2 rows; group must give the rows per query, in order",
        ),
        (lambda: recall_at_k([1, 0], [0.1, 0.2], [2], 0), "k must be an integer >= 1, got 0"),
        (lambda: ndcg_at_k([1, 0], [0.1, 0.2], [2, 0], 1), "group sizes must be >= 1, got 0"),
        (
            lambda: mrr([1, 0], [0.1, float("nan")], [2]),
            "scores contains NaN; give every row a number (use -inf for 'never recommend')",
        ),
        (
            lambda: mutual_match_rate(np.array([True]), [0.1, 0.2], [2], 1),
            "mutual has 1 rows but scores has 2; they must have the same length",
        ),
        (lambda: top_k_items(np.array([1, 2]), [0.1, 0.2], [2], -1), "k must be an integer >= 1, got -1"),
        (lambda: gini(np.array([1, -1])), "exposure must hold non-negative counts per item"),
        (lambda: lorenz(np.array([])), "exposure is empty; give one count per item in the catalogue"),
    ],
)
def test_validation_errors_name_the_argument(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as err:
        call()
    assert str(err.value) == message
