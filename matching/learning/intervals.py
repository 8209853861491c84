"""Bootstrap intervals over queries: how sure a metric is, and whether one scorer beats another.

The unit of resampling is the query (an investor's deal list, an enterprise's investor list): rows of
one query are not independent, queries are. :func:`bootstrap_ci` resamples the per-query values of
one scorer; :func:`paired_bootstrap` resamples the *same* queries for two scorers, so the interval of
their difference is not widened by how hard each query is. Written with NumPy (a dozen lines) rather
than a statistics package: ``ranx`` would bring its own metric definitions, and the point is that
the interval is computed on exactly the metric values :mod:`matching.learning.metrics` reports.
"""

from __future__ import annotations

import numpy as np

#: Bootstrap resamples; 1,000 gives interval ends stable to about ±0.002 NDCG at 500 queries.
RESAMPLES = 1000


def bootstrap_ci(values: np.ndarray, *, resamples: int = RESAMPLES, level: float = 0.95, seed: int = 0
                 ) -> tuple[float, float]:
    """Percentile interval of the mean of per-query ``values`` (``(nan, nan)`` without values)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(resamples, v.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def paired_bootstrap(a: np.ndarray, b: np.ndarray, *, resamples: int = RESAMPLES, level: float = 0.95,
                     seed: int = 0) -> dict[str, float]:
    """The mean difference ``a - b`` over the same queries, its interval and the share of resamples
    in which ``a`` does not beat ``b`` (a one-sided bootstrap p-value).

    Raises:
        ValueError: ``a`` and ``b`` differ in length (they must be the same queries, in order).
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired values differ in length: {x.size} and {y.size}; give the same queries")
    if x.size == 0:
        return {"diff": float("nan"), "lo": float("nan"), "hi": float("nan"), "p_not_better": float("nan")}
    d = x - y
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(resamples, d.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return {"diff": float(d.mean()), "lo": float(lo), "hi": float(hi),
            "p_not_better": float(np.mean(means <= 0))}
