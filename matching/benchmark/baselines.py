"""Baselines of the real-data benchmark, scored on the same rows as the model.

* **random**: a seeded random order.
* **popularity**: enterprise → investor: the investor's number of portfolio companies; investor →
  enterprise: the company's number of earlier investors (cold companies tie, broken at random).
* **rules**: the mandate-fit analogue. These records carry no mandates, so an investor's "mandate"
  is what it has done: one point each for a category, a state and a round type it has invested in
  before (0–3, ties broken at random).
* **affinity**: category × region × stage affinity, ``n * (share_category + s)(share_state + s)
  (share_round + s)`` with ``s = 0.01`` and ``n`` the investor's portfolio size: the investor's
  naive-Bayes likelihood of the company. This is the published baseline's definition (it reproduces
  its numbers; without ``n`` enterprise → investor falls to R@20 ≈ 0.18).

There is no similarity-only baseline: the records have no descriptions to embed.
"""

from __future__ import annotations

import numpy as np

from matching.benchmark.candidates import ENT_TO_INV, Layout
from matching.benchmark.features import FeatureCube

BASELINES: tuple[str, ...] = ("random", "popularity", "rules", "affinity")
BASELINE_MEANING: dict[str, str] = {
    "random": "random order (seeded)",
    "popularity": "most active investor first / company with most earlier investors first",
    "rules": "mandate-fit analogue: category, state and round type it has invested in before (0-3)",
    "affinity": "category x region x stage affinity: n * (share_cat + .01)(share_state + .01)(share_round + .01)",
}


def baseline_scores(cube: FeatureCube, lay: Layout, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Scores of every baseline in :data:`BASELINES` for the rows of ``lay``."""
    i, j = lay.i, lay.j
    if lay.direction == ENT_TO_INV:
        popularity = cube.column("inv_log_companies", i, j)
    else:
        popularity = cube.column("comp_log_prev_investors", i, j)
    rules = sum((cube.column(n, i, j) > 0).astype(np.float64) for n in ("share_category", "share_state",
                                                                         "share_round"))
    return {
        "random": np.random.default_rng(seed).random(len(lay)),
        "popularity": popularity.astype(np.float64),
        "rules": np.asarray(rules, dtype=np.float64),
        "affinity": cube.column("log_affinity", i, j).astype(np.float64),
    }
