"""Ranking metrics over grouped data, in pure NumPy.

Rows of one query are contiguous and ``group`` gives the rows per query, in order (the LightGBM
convention). Every metric works on the *full* candidate list of each query, vectorised over all
queries at once so that ~10^6 rows take well under a second.

Ties in the scores are broken by a seeded random permutation (:func:`rank_order`): a constant
scorer then behaves like a random order, reproducibly for a given seed, instead of silently
favouring whatever order the rows happen to be in (which would flatter any scorer whose rows were
sorted with the positives first). :func:`auc` needs no tie-break: a tie counts one half.

Queries with no positive are skipped by the metrics that need one; if no query has one the metric
is ``nan``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matching.learning.checks import as_1d, check_group, check_k, check_same_length, check_scores

__all__ = ["auc", "evaluate", "mrr", "mutual_match_rate", "ndcg_at_k", "ndcg_per_query", "rank_order", "recall_at_k",
           "top_k_items"]


# --------------------------------------------------------------------------------------------
# validation and ranking helpers
# --------------------------------------------------------------------------------------------


def _query_ids(sizes: np.ndarray) -> np.ndarray:
    return np.repeat(np.arange(sizes.size), sizes)


def _tiebreak(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)


def rank_order(scores: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Indices that sort ``scores`` from best to worst.

    Args:
        scores: one score per row; higher is better.
        seed: seed of the random permutation that breaks ties.

    Returns:
        Row indices, best first. Tied rows come in a random order that depends only on ``seed``,
        so a constant scorer yields a random ranking, the same one each time for the same seed.

    Raises:
        ValueError: ``scores`` is not one-dimensional or contains NaN.
    """
    arr = check_scores(scores)
    return _grouped_order(-arr, None, _tiebreak(arr.size, seed))


def _grouped_order(primary: np.ndarray, qid: np.ndarray | None, tiebreak: np.ndarray | None) -> np.ndarray:
    """Rows ordered by query, then ``primary`` ascending, then ``tiebreak`` ascending (else row order).

    The same order as ``np.lexsort((tiebreak, primary, qid))``, built from stable one-key sorts,
    which is several times faster on millions of rows.
    """
    n = primary.size
    if tiebreak is None:
        base = np.arange(n)
    else:
        base = np.empty(n, dtype=np.int64)
        base[tiebreak] = np.arange(n)  # tiebreak is a permutation: rows in increasing tie-break order
    order = base[np.argsort(primary[base], kind="stable")]
    if qid is not None:
        q = qid[order]
        if q.size and int(q.max()) < 2**16:
            q = q.astype(np.uint16)  # numpy's stable sort of 16-bit keys is a linear-time radix sort
        order = order[np.argsort(q, kind="stable")]
    return order


def _ranks(scores: np.ndarray, sizes: np.ndarray, seed: int) -> np.ndarray:
    """0-based position of every row within its own query (0 = best)."""
    qid = _query_ids(sizes)
    order = _grouped_order(-scores, qid, _tiebreak(scores.size, seed))
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    ranks = np.empty(scores.size, dtype=np.int64)
    ranks[order] = np.arange(scores.size) - starts[qid[order]]
    return ranks


def _prepare(y: np.ndarray, scores: np.ndarray, group: Sequence[int] | np.ndarray) -> tuple[np.ndarray, ...]:
    y_arr = as_1d("y", y)
    s_arr = check_scores(scores)
    check_same_length("y", y_arr, "scores", s_arr)
    sizes = check_group(group, y_arr.shape[0])
    return y_arr, s_arr, sizes


def _mean_or_nan(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


# --------------------------------------------------------------------------------------------
# metrics on precomputed ranks (shared by the public functions and evaluate)
# --------------------------------------------------------------------------------------------


def _recall(pos: np.ndarray, ranks: np.ndarray, qid: np.ndarray, n_q: int, k: int) -> float:
    n_pos = np.bincount(qid, weights=pos, minlength=n_q)
    hits = np.bincount(qid, weights=pos & (ranks < k), minlength=n_q)
    has = n_pos > 0
    return _mean_or_nan(hits[has] / n_pos[has])


def _ndcg(y: np.ndarray, ranks: np.ndarray, sizes: np.ndarray, qid: np.ndarray, k: int) -> float:
    return _mean_or_nan(_ndcg_per_query(y, ranks, sizes, qid, k))


def _ndcg_per_query(y: np.ndarray, ranks: np.ndarray, sizes: np.ndarray, qid: np.ndarray, k: int) -> np.ndarray:
    gain = np.power(2.0, y.astype(np.float64)) - 1.0
    discount = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    dcg = np.bincount(qid, weights=gain * discount, minlength=sizes.size)
    # Ideal: the same query's labels sorted best first.
    ideal_order = _grouped_order(-y.astype(np.float64), qid, None)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    ideal_ranks = np.empty(y.size, dtype=np.int64)
    ideal_ranks[ideal_order] = np.arange(y.size) - starts[qid[ideal_order]]
    ideal_discount = np.where(ideal_ranks < k, 1.0 / np.log2(ideal_ranks + 2.0), 0.0)
    idcg = np.bincount(qid, weights=gain * ideal_discount, minlength=sizes.size)
    has = idcg > 0
    return dcg[has] / idcg[has]


def ndcg_per_query(y: np.ndarray, scores: np.ndarray, group: Sequence[int] | np.ndarray, k: int = 10, *,
                   seed: int = 0) -> np.ndarray:
    """NDCG@k of each query whose ideal DCG is nonzero, in query order (their mean is :func:`ndcg_at_k`):
    the per-query values that bootstrap intervals resample (:mod:`matching.learning.intervals`)."""
    y_arr, s_arr, sizes = _prepare(y, scores, group)
    return _ndcg_per_query(y_arr, _ranks(s_arr, sizes, seed), sizes, _query_ids(sizes), check_k(k))


def _mrr(pos: np.ndarray, ranks: np.ndarray, qid: np.ndarray, n_q: int) -> float:
    first = np.full(n_q, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, qid[pos], ranks[pos])
    has = first < np.iinfo(np.int64).max
    return _mean_or_nan(1.0 / (first[has] + 1.0))


def _auc(pos: np.ndarray, scores: np.ndarray, sizes: np.ndarray, qid: np.ndarray) -> float:
    n = scores.size
    order = _grouped_order(scores, qid, None)  # ascending score within query
    s_sorted, q_sorted = scores[order], qid[order]
    new_block = np.ones(n, dtype=bool)
    new_block[1:] = (s_sorted[1:] != s_sorted[:-1]) | (q_sorted[1:] != q_sorted[:-1])
    block = np.cumsum(new_block) - 1
    block_start = np.flatnonzero(new_block)
    block_end = np.concatenate((block_start[1:], [n])) - 1
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    # Mid-rank (1-based, within the query) of each row: ties share the mean of their ranks.
    midrank = np.empty(n, dtype=np.float64)
    midrank[order] = (block_start[block] + block_end[block]) / 2.0 - starts[q_sorted] + 1.0
    n_pos = np.bincount(qid, weights=pos, minlength=sizes.size)
    n_neg = sizes - n_pos
    rank_sum = np.bincount(qid, weights=np.where(pos, midrank, 0.0), minlength=sizes.size)
    has = (n_pos > 0) & (n_neg > 0)
    u = rank_sum[has] - n_pos[has] * (n_pos[has] + 1.0) / 2.0
    return _mean_or_nan(u / (n_pos[has] * n_neg[has]))


# --------------------------------------------------------------------------------------------
# public metrics
# --------------------------------------------------------------------------------------------


def recall_at_k(
    y: np.ndarray, scores: np.ndarray, group: Sequence[int] | np.ndarray, k: int, *, positive: int = 1, seed: int = 0
) -> float:
    """Mean share of each query's positives that the top ``k`` rows contain.

    Args:
        y: label of each row; a row is positive when ``y >= positive``.
        scores: score of each row, higher is better.
        group: rows per query; the rows of one query are contiguous.
        k: size of the head.
        positive: smallest label that counts as positive.
        seed: tie-break seed (see :func:`rank_order`).

    Returns:
        Mean over queries with at least one positive of ``hits in top k / positives``; ``nan``
        when no query has a positive.

    Raises:
        ValueError: lengths disagree, ``group`` does not sum to the rows, or ``k < 1``.
    """
    y_arr, s_arr, sizes = _prepare(y, scores, group)
    k = check_k(k)
    return _recall(y_arr >= positive, _ranks(s_arr, sizes, seed), _query_ids(sizes), sizes.size, k)


def ndcg_at_k(
    y: np.ndarray, scores: np.ndarray, group: Sequence[int] | np.ndarray, k: int = 10, *, seed: int = 0
) -> float:
    """Normalised discounted cumulative gain of the top ``k``.

    Gain is ``2**y - 1`` (graded labels 0..5; binary 0/1 labels work too), discount ``1/log2(rank+1)``
    with 1-based ranks. The ideal ordering is the query's labels sorted best first.

    Args:
        y: graded relevance of each row (>= 0).
        scores: score of each row, higher is better.
        group: rows per query; the rows of one query are contiguous.
        k: depth of the cut.
        seed: tie-break seed (see :func:`rank_order`).

    Returns:
        Mean NDCG@k over queries whose ideal DCG is nonzero; ``nan`` when there are none.

    Raises:
        ValueError: lengths disagree, ``group`` does not sum to the rows, or ``k < 1``.
    """
    y_arr, s_arr, sizes = _prepare(y, scores, group)
    k = check_k(k)
    return _ndcg(y_arr, _ranks(s_arr, sizes, seed), sizes, _query_ids(sizes), k)


def mrr(
    y: np.ndarray, scores: np.ndarray, group: Sequence[int] | np.ndarray, *, positive: int = 1, seed: int = 0
) -> float:
    """Mean reciprocal rank of each query's first positive.

    Args:
        y: label of each row; a row is positive when ``y >= positive``.
        scores: score of each row, higher is better.
        group: rows per query; the rows of one query are contiguous.
        positive: smallest label that counts as positive.
        seed: tie-break seed (see :func:`rank_order`).

    Returns:
        Mean of ``1 / rank of the first positive`` (1-based) over queries with a positive; ``nan``
        when there are none.

    Raises:
        ValueError: lengths disagree or ``group`` does not sum to the rows.
    """
    y_arr, s_arr, sizes = _prepare(y, scores, group)
    return _mrr(y_arr >= positive, _ranks(s_arr, sizes, seed), _query_ids(sizes), sizes.size)


def auc(y: np.ndarray, scores: np.ndarray, group: Sequence[int] | np.ndarray, *, positive: int = 1) -> float:
    """Per-query ROC AUC of positives against non-positives, averaged over queries.

    Args:
        y: label of each row; a row is positive when ``y >= positive``.
        scores: score of each row, higher is better.
        group: rows per query; the rows of one query are contiguous.
        positive: smallest label that counts as positive.

    Returns:
        Mean over queries that have both a positive and a non-positive of the probability that a
        random positive outscores a random non-positive (a tie counts 0.5); ``nan`` if none.

    Raises:
        ValueError: lengths disagree or ``group`` does not sum to the rows.
    """
    y_arr, s_arr, sizes = _prepare(y, scores, group)
    return _auc(y_arr >= positive, s_arr, sizes, _query_ids(sizes))


def evaluate(
    y: np.ndarray,
    scores: np.ndarray,
    group: Sequence[int] | np.ndarray,
    *,
    ks: Sequence[int] = (10, 20, 50, 100),
    positive: int = 1,
    seed: int = 0,
) -> dict[str, float]:
    """Every ranking metric of the benchmark at once (ranks are computed once).

    Args:
        y: label of each row; positive when ``y >= positive`` (NDCG uses the labels as gains).
        scores: score of each row, higher is better.
        group: rows per query; the rows of one query are contiguous.
        ks: cut-offs for recall.
        positive: smallest label that counts as positive.
        seed: tie-break seed (see :func:`rank_order`).

    Returns:
        ``{"recall@10": …, …, "ndcg@10": …, "mrr": …, "auc": …, "queries": n}`` where ``queries``
        counts the queries with at least one positive.

    Raises:
        ValueError: lengths disagree, ``group`` does not sum to the rows, or a ``k < 1``.
    """
    y_arr, s_arr, sizes = _prepare(y, scores, group)
    ks = [check_k(k) for k in ks]
    qid = _query_ids(sizes)
    ranks = _ranks(s_arr, sizes, seed)
    pos = y_arr >= positive
    out: dict[str, float] = {f"recall@{k}": _recall(pos, ranks, qid, sizes.size, k) for k in ks}
    out["ndcg@10"] = _ndcg(y_arr, ranks, sizes, qid, 10)
    out["mrr"] = _mrr(pos, ranks, qid, sizes.size)
    out["auc"] = _auc(pos, s_arr, sizes, qid)
    out["queries"] = int(np.count_nonzero(np.bincount(qid, weights=pos, minlength=sizes.size)))
    return out


def mutual_match_rate(
    mutual: np.ndarray, scores: np.ndarray, group: Sequence[int] | np.ndarray, k: int, *, seed: int = 0
) -> float:
    """Share of the top-``k`` slots filled by a mutual match.

    Args:
        mutual: boolean per row, true when both sides of the pair are positive for each other.
        scores: score of each row, higher is better.
        group: rows per query; the rows of one query are contiguous.
        k: size of the head; a query with fewer rows contributes all its rows.
        seed: tie-break seed (see :func:`rank_order`).

    Returns:
        ``mutual rows in the heads / sum over queries of min(k, rows)``; ``nan`` for no queries.

    Raises:
        ValueError: lengths disagree, ``group`` does not sum to the rows, or ``k < 1``.
    """
    m_arr = as_1d("mutual", mutual).astype(bool)
    s_arr = check_scores(scores)
    check_same_length("mutual", m_arr, "scores", s_arr)
    sizes = check_group(group, m_arr.shape[0])
    k = check_k(k)
    slots = int(np.minimum(sizes, k).sum())
    if slots == 0:
        return float("nan")
    head = _ranks(s_arr, sizes, seed) < k
    return float(np.count_nonzero(m_arr & head)) / slots


def top_k_items(
    items: np.ndarray, scores: np.ndarray, group: Sequence[int] | np.ndarray, k: int, *, seed: int = 0
) -> np.ndarray:
    """The item ids in each query's top ``k``, best first, queries in order, concatenated.

    Args:
        items: item id of each row.
        scores: score of each row, higher is better.
        group: rows per query; the rows of one query are contiguous.
        k: size of the head; a shorter query contributes all its rows.
        seed: tie-break seed (see :func:`rank_order`).

    Returns:
        Array of ``sum(min(k, size))`` item ids, for exposure counts and :func:`coverage`.

    Raises:
        ValueError: lengths disagree, ``group`` does not sum to the rows, or ``k < 1``.
    """
    i_arr = as_1d("items", items)
    s_arr = check_scores(scores)
    check_same_length("items", i_arr, "scores", s_arr)
    sizes = check_group(group, i_arr.shape[0])
    k = check_k(k)
    ranks = _ranks(s_arr, sizes, seed)
    keep = np.flatnonzero(ranks < k)
    order = np.lexsort((ranks[keep], _query_ids(sizes)[keep]))
    return i_arr[keep[order]]
