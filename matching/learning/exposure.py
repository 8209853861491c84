"""How a scorer spreads exposure over the catalogue: per-item counts in the top k, their Gini and
Lorenz curve, and catalogue coverage (the ranking metrics are in :mod:`matching.learning.metrics`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from matching.learning.checks import as_1d
from matching.learning.metrics import top_k_items

__all__ = ["coverage", "gini", "item_exposure", "lorenz"]


def item_exposure(items: np.ndarray, scores: np.ndarray, group: Sequence[int] | np.ndarray, k: int, *,
                  seed: int = 0) -> np.ndarray:
    """How often each item appears in a query's top ``k`` (:func:`~matching.learning.metrics.top_k_items`).

    Returns:
        One count per distinct item of ``items``, items in ascending id order (never-shown items count 0).
    """
    shown = top_k_items(items, scores, group, k, seed=seed)
    catalogue = np.unique(items)
    counts = np.zeros(len(catalogue), dtype=np.int64)
    np.add.at(counts, np.searchsorted(catalogue, shown), 1)
    return counts


def _check_exposure(exposure: np.ndarray) -> np.ndarray:
    arr = as_1d("exposure", exposure).astype(np.float64)
    if arr.size == 0:
        raise ValueError("exposure is empty; give one count per item in the catalogue")
    if np.isnan(arr).any() or (arr < 0).any():
        raise ValueError("exposure must hold non-negative counts per item")
    return arr


def gini(exposure: np.ndarray) -> float:
    """Gini coefficient of the exposure counts of ``n`` items.

    Defined as the mean absolute difference over all ordered pairs divided by twice the mean,
    ``sum_ij |x_i - x_j| / (2 n^2 mean)`` (no small-sample correction). Known answers: equal counts
    give 0; ``[0, 0, 0, 4]`` gives 0.75; all exposure on one of ``n`` items gives ``(n - 1) / n``.

    Args:
        exposure: non-negative count per item (items never shown count 0).

    Returns:
        Gini in ``[0, 1)``; all zeros gives 0.0.

    Raises:
        ValueError: ``exposure`` is empty, negative or NaN.
    """
    arr = np.sort(_check_exposure(exposure))
    total = arr.sum()
    if total == 0:
        return 0.0
    n = arr.size
    index = np.arange(1, n + 1, dtype=np.float64)
    return float(2.0 * np.dot(index, arr) / (n * total) - (n + 1.0) / n)


def lorenz(exposure: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve of the exposure counts (least exposed items first).

    Args:
        exposure: non-negative count per item.

    Returns:
        ``(x, y)``, each of length ``n + 1``: the cumulative share of items and of exposure, both
        from 0 to 1. All zeros gives the equality line ``y == x``.

    Raises:
        ValueError: ``exposure`` is empty, negative or NaN.
    """
    arr = np.sort(_check_exposure(exposure))
    n = arr.size
    x = np.arange(n + 1, dtype=np.float64) / n
    total = arr.sum()
    if total == 0:
        return x, x.copy()
    y = np.concatenate(([0.0], np.cumsum(arr) / total))
    y[-1] = 1.0  # exact endpoint despite rounding
    return x, y


def coverage(recommended_ids: np.ndarray, catalogue_size: int) -> float:
    """Share of the catalogue that was recommended at least once.

    Args:
        recommended_ids: ids shown (repeats allowed), e.g. from :func:`top_k_items`.
        catalogue_size: number of items that could have been shown.

    Returns:
        ``distinct ids / catalogue_size``.

    Raises:
        ValueError: ``catalogue_size < 1`` or more distinct ids than the catalogue holds.
    """
    if catalogue_size < 1:
        raise ValueError(f"catalogue_size must be >= 1, got {catalogue_size}")
    distinct = np.unique(as_1d("recommended_ids", recommended_ids)).size
    if distinct > catalogue_size:
        raise ValueError(
            f"recommended_ids holds {distinct} distinct ids but catalogue_size is {catalogue_size}; "
            "pass the size of the whole catalogue"
        )
    return distinct / catalogue_size
