"""Argument checks shared by the ranking metrics (:mod:`matching.learning.metrics`) and the exposure
measures (:mod:`matching.learning.exposure`): each refusal names the argument and what is allowed."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_1d(name: str, values: np.ndarray) -> np.ndarray:
    """``values`` as an array, refused unless one-dimensional (``name`` is the argument in the message)."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def check_scores(scores: np.ndarray) -> np.ndarray:
    """Scores as ``float64``, refused when not one-dimensional or holding NaN."""
    arr = as_1d("scores", scores).astype(np.float64, copy=False)
    if np.isnan(arr).any():
        raise ValueError("scores contains NaN; give every row a number (use -inf for 'never recommend')")
    return arr


def check_group(group: Sequence[int] | np.ndarray, n_rows: int) -> np.ndarray:
    """Rows per query as ``int64``, refused unless positive integers that sum to ``n_rows``."""
    sizes = as_1d("group", np.asarray(group))
    if sizes.size and not np.issubdtype(sizes.dtype, np.integer):
        raise ValueError(f"group must hold integer row counts per query, got dtype {sizes.dtype}")
    sizes = sizes.astype(np.int64)
    if sizes.size and sizes.min() < 1:
        raise ValueError(f"group sizes must be >= 1, got {int(sizes.min())}")
    total = int(sizes.sum())
    if total != n_rows:
        raise ValueError(
            f"group sums to {total} but there are {n_rows} rows; group must give the rows per query, in order"
        )
    return sizes


def check_same_length(first: str, a: np.ndarray, second: str, b: np.ndarray) -> None:
    """Refuse two per-row arrays of different lengths, naming both."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{first} has {a.shape[0]} rows but {second} has {b.shape[0]}; they must have the same length")


def check_k(k: int) -> int:
    """A list length ``k`` as an ``int``, refused unless an integer >= 1."""
    if int(k) != k or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return int(k)
